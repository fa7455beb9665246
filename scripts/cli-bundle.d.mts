export declare const unbundled: unknown;
export declare const common: Record<string, unknown>;
/** Bundles the CLI's `entry` into `outDir`/airlock.js (and `library` into `outDir`/library.js), restoring `import.meta.url` for files under `ownDir`. */
export declare function bundleCli(options: { entry: string; ownDir: string; outDir: string; library?: string }): Promise<void>;
