// The plugin interface: the only thing src/hooks knows of plugins (DESIGN.md "Layers").
// A plugin is a plain object; the server (and `domsplice hook`, which runs the same path)
// decodes the call, checks the domain is well-formed, parses the VMI JSON once, and hands
// each enabled plugin a context in the order the plugins were chosen, chaining their outputs.
// Plugins edit through the engine (src/xml) and never see gRPC.

/** Hook points a plugin can subscribe to; the names Info announces to virt-launcher. */
export type HookPointName = "OnDefineDomain" | "PreCloudInitIso";

/**
 * Why virt-launcher is defining the domain. The v1.9 Plugin API (MutateDomain) says so in
 * SidecarContext.invocation_context; the legacy Callbacks API does not, so it is absent there.
 * On a migration target virt-launcher discards the result; plugins must still be idempotent.
 */
export type InvocationContext = "Boot" | "MigrationSource" | "MigrationTarget";

/** The environment KubeVirt gives a sidecar (a Network Binding Plugin gets only these two). */
export interface HookEnv {
  /** The name the binding plugin was registered under; matches interfaces[].binding.name. */
  readonly NETWORK_BINDING_PLUGIN_NAME?: string;
  readonly CONTAINER_NAME?: string;
}

/**
 * The VMI as JSON, parsed once per call. Typed only where plugins read it; everything else is
 * there as KubeVirt sent it (`unknown`), so a plugin can reach any field.
 */
export interface Vmi {
  readonly apiVersion?: string;
  readonly kind?: string;
  readonly metadata?: {
    readonly name?: string;
    readonly namespace?: string;
    readonly uid?: string;
    readonly annotations?: Readonly<Record<string, string>>;
    readonly labels?: Readonly<Record<string, string>>;
    readonly [field: string]: unknown;
  };
  readonly spec?: {
    readonly domain?: {
      readonly devices?: {
        readonly interfaces?: readonly VmiInterface[];
        readonly useVirtioTransitional?: boolean;
        readonly [field: string]: unknown;
      };
      readonly [field: string]: unknown;
    };
    readonly networks?: readonly VmiNetwork[];
    readonly [field: string]: unknown;
  };
  readonly status?: {
    readonly interfaces?: readonly VmiInterfaceStatus[];
    readonly [field: string]: unknown;
  };
  readonly [field: string]: unknown;
}

export interface VmiInterface {
  readonly name: string;
  readonly model?: string;
  readonly macAddress?: string;
  readonly pciAddress?: string;
  readonly acpiIndex?: number;
  readonly ports?: readonly { readonly name?: string; readonly protocol?: string; readonly port: number }[];
  readonly binding?: { readonly name: string };
  readonly [field: string]: unknown;
}

export interface VmiNetwork {
  readonly name: string;
  readonly pod?: { readonly vmNetworkCIDR?: string; readonly vmIPv6NetworkCIDR?: string };
  readonly multus?: { readonly networkName: string; readonly default?: boolean };
  readonly [field: string]: unknown;
}

export interface VmiInterfaceStatus {
  readonly name?: string;
  readonly mac?: string;
  readonly podInterfaceName?: string;
  readonly [field: string]: unknown;
}

/** What every handler gets, whatever the hook point. */
export interface HookContextBase {
  /** The parsed VMI (KubeVirt sends it as JSON). */
  readonly vmi: Vmi;
  /** The VMI JSON exactly as it arrived, for plugins that pass it on (e.g. to a script). */
  readonly vmiJson: Uint8Array;
  readonly env: HookEnv;
}

/** OnDefineDomain (Callbacks v1alpha1/2/3) and MutateDomain (Plugin API) both land here. */
export interface DomainHookContext extends HookContextBase {
  /** The domain XML as the previous hook left it; well-formed (the server checked). */
  readonly domainXml: Uint8Array;
  /** Present on the Plugin API only; the legacy API does not tell. */
  readonly invocationContext?: InvocationContext;
}

/**
 * PreCloudInitIso follows KubeVirt's legacy rules: cloudInitNoCloudSource (JSON of KubeVirt's
 * CloudInitNoCloudSource) in and out; cloudInitData (JSON of CloudInitData, v1alpha3 callers)
 * in and out. An empty array means the caller sent none.
 */
export interface CloudInitContext extends HookContextBase {
  readonly cloudInitNoCloudSource: Uint8Array;
  readonly cloudInitData: Uint8Array;
}

export interface CloudInitResult {
  readonly cloudInitNoCloudSource: Uint8Array;
  readonly cloudInitData: Uint8Array;
}

/**
 * A hook. Handlers return the new bytes (returning the input unchanged is fine and cheap) or
 * throw PluginError with a reason a KubeVirt admin can act on; the server answers the call
 * with a status naming the plugin and that reason, and goes on serving.
 */
export interface Plugin {
  readonly name: string;
  readonly hookPoints: readonly HookPointName[];
  onDefineDomain?(context: DomainHookContext): Uint8Array | Promise<Uint8Array>;
  preCloudInitIso?(context: CloudInitContext): CloudInitResult | Promise<CloudInitResult>;
}

/** A refusal a plugin means to make: the VMI or domain does not fit what it was asked to do. */
export class PluginError extends Error {
  override readonly name = "PluginError";
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/**
 * A plugin's settings, for what an admin configures per sidecar (a policy file, a hooks
 * directory, a timeout, a path to read). `get("policy")` is `--option policy=VALUE` on the
 * command line (serve and hook), else the environment variable DOMSPLICE_POLICY (the key
 * upper-cased, '-' and '.' as '_'), else undefined: flags work in a hookSidecars annotation,
 * env in an image or a Deployment, and a Network Binding Plugin gets neither, so every
 * setting has a default that works without it.
 */
export interface PluginOptions {
  get(key: string): string | undefined;
}

/**
 * How the registry (registry.ts) makes a plugin: once per process, at start-up, so a bad
 * setting fails `serve` at once (throw PluginError naming the option) instead of every call.
 */
export type PluginFactory = (options: PluginOptions) => Plugin | Promise<Plugin>;
