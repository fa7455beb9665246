import { propagation, SpanStatusCode, trace, type Attributes, type Tracer } from "@opentelemetry/api";

/**
 * Airlock's tracer. Taken again once tracing starts: the built gateway carries its own copy of the
 * OpenTelemetry API inside its bundle, while the SDK loaded from node_modules registers its provider
 * through the copy beside it. A tracer taken before that registration belongs to the bundle's proxy,
 * which nothing ever connects to the SDK, so every span would be a no-op; taken after it, the API
 * finds the provider through the global registration that both copies share.
 */
export let tracer: Tracer = trace.getTracer("airlock");

/** Runs `work` in a span of its own, marked as an error when it throws. For the governance stages, off the hot path. */
export function inSpan<T>(name: string, attributes: Attributes, work: () => Promise<T>): Promise<T> {
  return tracer.startActiveSpan(name, { attributes }, async (span) => {
    try {
      return await work();
    } catch (err) {
      span.setStatus({ code: SpanStatusCode.ERROR, message: err instanceof Error ? err.name : "error" });
      throw err;
    } finally {
      span.end();
    }
  });
}

export interface TracingHandle {
  shutdown(): Promise<void>;
}

/**
 * Starts OTLP/HTTP span export when the standard `OTEL_EXPORTER_OTLP_ENDPOINT` (or the traces-specific
 * variable) is set. Otherwise nothing is loaded and the API's no-op tracer costs next to nothing.
 * Registering the provider also registers the W3C trace-context (and baggage) propagator,
 * through which a call's incoming `traceparent` becomes its span's parent.
 */
export async function startTracing(env: NodeJS.ProcessEnv = process.env): Promise<TracingHandle | undefined> {
  if (!env.OTEL_EXPORTER_OTLP_ENDPOINT && !env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) return undefined;
  const [{ NodeTracerProvider, BatchSpanProcessor }, { OTLPTraceExporter }, { resourceFromAttributes }] = await Promise.all([
    import("@opentelemetry/sdk-trace-node"),
    import("@opentelemetry/exporter-trace-otlp-http"),
    import("@opentelemetry/resources"),
  ]);
  const provider = new NodeTracerProvider({
    resource: resourceFromAttributes({ "service.name": env.OTEL_SERVICE_NAME ?? "airlock" }),
    spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter(), { scheduledDelayMillis: 200 })],
  });
  provider.register();
  tracer = trace.getTracer("airlock");
  return {
    shutdown: async () => {
      await provider.forceFlush();
      await provider.shutdown();
      trace.disable();
      propagation.disable();
      tracer = trace.getTracer("airlock");
    },
  };
}
