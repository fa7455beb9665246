import { Decimal } from "decimal.js";
import { Cancellation } from "../core/cancel.js";
import { abortedCallError, AirlockError } from "../core/errors.js";
import type { ChatChunk, ChatMessage, ChatRequest, ChatResult, Usage } from "../providers/spec.js";
import type { CatalogModel } from "../routing/catalog.js";
import type { Plan } from "../routing/plan.js";
import { failureReason } from "../routing/retry.js";
import { answersOtherwise, checkOutput, contentText, nativeResponseFormat, repairMessages, schemaInstruction, schemaValidationError } from "../structured/output.js";
import { compileOutputSchemaCached, type CompiledSchema, type OutputSchemaInput, type SchemaIssue } from "../structured/schema.js";
import type { CallDeps } from "./context.js";
import type { CallRecord } from "./settle.js";
import { estimateUsage, generatedText } from "./usage.js";

/** What a chat call asks of the answer's shape, settled once before any provider is called. */
export interface OutputContract {
  schema: CompiledSchema;
  /** The client sent its own `response_format: json_schema`: native targets get it exactly as sent. */
  clientFormat: boolean;
  repair: boolean;
}

/**
 * The request's schema (`output_schema`, or a standard `response_format` of type `json_schema`) wins
 * over the operation's. A schema that cannot be compiled is the caller's error.
 */
export function outputContract(body: ChatRequest, schemaField: unknown, plan: Plan): OutputContract | undefined {
  const repair = plan.operation?.repair ?? true;
  if (schemaField !== undefined && schemaField !== null) {
    if (typeof schemaField !== "string" && (typeof schemaField !== "object" || Array.isArray(schemaField))) {
      throw new AirlockError("invalid_request", "output_schema must be a JSON Schema object or a schema string such as {name: string}", { param: "output_schema" });
    }
    if (typeof schemaField === "object") refuseRegexKeywords(schemaField, "output_schema");
    return { schema: compileOutputSchemaCached(schemaField as OutputSchemaInput), clientFormat: false, repair };
  }
  const format = body.response_format as { type?: unknown; json_schema?: { name?: unknown; schema?: unknown } } | undefined;
  if (format?.type === "json_schema") {
    const schema = format.json_schema?.schema;
    if (!schema || typeof schema !== "object" || Array.isArray(schema)) {
      throw new AirlockError("invalid_request", "response_format.json_schema.schema must be a JSON Schema object", { param: "response_format" });
    }
    refuseRegexKeywords(schema, "response_format");
    const name = typeof format.json_schema?.name === "string" ? format.json_schema.name : undefined;
    return { schema: compileOutputSchemaCached(schema as Record<string, unknown>, name, "response_format"), clientFormat: true, repair };
  }
  return plan.operation?.schema ? { schema: plan.operation.schema, clientFormat: false, repair } : undefined;
}

/**
 * A `pattern` from a client would run as a native regular expression over a model's answer, and a
 * catastrophic one would stall every caller of this instance. Operations, set by admins, may use them.
 */
function refuseRegexKeywords(schema: unknown, param: string): void {
  // Under `properties`, keys are field names: a field may well be called "pattern".
  const stack: Array<{ node: unknown; fieldNames: boolean }> = [{ node: schema, fieldNames: false }];
  while (stack.length > 0) {
    const { node, fieldNames } = stack.pop()!;
    if (node === null || typeof node !== "object") continue;
    const record = node as Record<string, unknown>;
    if (!fieldNames && !Array.isArray(node) && (typeof record.pattern === "string" || typeof record.patternProperties === "object")) {
      throw new AirlockError("invalid_request", "a request's output schema may not use pattern or patternProperties; define the schema on the operation instead", { param });
    }
    for (const [key, value] of Object.entries(record)) stack.push({ node: value, fieldNames: !fieldNames && !Array.isArray(node) && key === "properties" });
  }
}

/** Asks one target for the shape in the way it understands: `response_format`, or an instruction. */
export function askForShape(request: ChatRequest, contract: OutputContract, model: CatalogModel): ChatRequest {
  if (model.structuredOutput === "native") {
    if (!contract.clientFormat) request.response_format = nativeResponseFormat(contract.schema);
    return request;
  }
  delete request.response_format;
  const instruction: ChatMessage = { role: "system", content: schemaInstruction(contract.schema) };
  request.messages = [instruction, ...request.messages];
  return request;
}

export interface ShapedResult {
  result: ChatResult;
  /** The parsed answer; undefined when the model called tools or refused instead of answering. */
  output: unknown;
}

/**
 * Checks the answer against the schema; on a mismatch, asks the same model once to fix it. Both
 * answers are billed: `record.usage` ends as their sum whatever the outcome. Throws `schema_validation`
 * with the raw answer and the issues when the answer still does not fit. An answer that calls tools
 * or refuses is returned as it came (see answersOtherwise).
 */
export async function enforceShape(
  deps: CallDeps,
  record: CallRecord,
  contract: OutputContract,
  model: CatalogModel,
  sent: ChatRequest,
  first: ChatResult,
  call: Cancellation,
  attemptTimeoutMs: number,
): Promise<ShapedResult> {
  const checked = checkChoices(contract.schema, first.choices);
  if (checked.ok) return { result: asBareJson(first, checked.answers), output: checked.answers[0]?.value };
  const { raw } = checked;
  if (!contract.repair) throw schemaValidationError(raw, checked.issues);
  // The repair is another upstream request: a kill switch flipped since the call began stops it too.
  const stopped = await deps.killSwitch.checkSettled(record.operation?.name);
  if (stopped) throw stopped;

  const started = deps.clock.now();
  const attempt = new Cancellation(call, attemptTimeoutMs);
  const repairRequest: ChatRequest = { ...sent, messages: [...sent.messages, ...repairMessages(raw, checked.issues)] };
  let repaired: ChatResult;
  try {
    repaired = await model.provider.chat(repairRequest, attempt);
    record.attempts.push({ model: model.id, provider: model.providerName, outcome: "success", latencyMs: deps.clock.now() - started, delayMs: 0, purpose: "repair" });
  } catch (err) {
    // The call itself ended (deadline or client gone): say that, not that the answer was wrong.
    const ended = call.aborted ? abortedCallError(call.reason, REPAIR_ENDED) : undefined;
    const reason = ended ? ended.code : failureReason(err);
    record.attempts.push({ model: model.id, provider: model.providerName, outcome: "error", reason, latencyMs: deps.clock.now() - started, delayMs: 0, purpose: "repair" });
    if (ended) throw ended;
    deps.logger.warn({ model: model.id, reason }, "the repair request failed; answering with the schema issues of the first answer");
    throw schemaValidationError(raw, checked.issues);
  } finally {
    attempt.dispose();
  }
  const repairUsage = repaired.usageReported ? repaired.usage : await estimateUsage(repairRequest, generatedText(repaired));
  if (!repaired.usageReported) record.usageEstimated = true;
  // Summed for the row's token columns, and kept apart for its cost: each request has its own tier and fee.
  if (record.usage) record.requestUsages = [record.usage, repairUsage];
  record.usage = record.usage ? addUsage(record.usage, repairUsage) : repairUsage;
  // Asked to fix its answer, the model may still reach for a tool or decline: that answer goes to the caller as well.
  const fixed = checkChoices(contract.schema, repaired.choices);
  if (!fixed.ok) throw schemaValidationError(fixed.raw, fixed.issues);
  return { result: asBareJson({ ...repaired, usage: record.usage ?? repaired.usage }, fixed.answers), output: fixed.answers[0]?.value };
}

/** A choice's checked answer: its text and parsed value; undefined for a choice that calls tools or refuses. */
type CheckedAnswer = { raw: string; value: unknown } | undefined;

type CheckedChoices = { ok: true; answers: CheckedAnswer[] } | { ok: false; raw: string | null; issues: SchemaIssue[] };

/**
 * Every choice is an answer the schema holds for (`n` > 1 asks for several), so each is checked; the
 * first that does not fit is the one reported and repaired. No choice at all is an empty answer.
 */
function checkChoices(schema: CompiledSchema, choices: ChatResult["choices"]): CheckedChoices {
  if (choices.length === 0) {
    const checked = checkOutput(schema, null);
    return checked.ok ? { ok: true, answers: [] } : { ok: false, raw: null, issues: checked.issues };
  }
  const answers: CheckedAnswer[] = [];
  for (const choice of choices) {
    if (answersOtherwise(choice.message)) {
      answers.push(undefined);
      continue;
    }
    const raw = contentText(choice.message.content);
    const checked = checkOutput(schema, raw);
    if (!checked.ok) return { ok: false, raw, issues: checked.issues };
    answers.push({ raw: raw!, value: checked.value });
  }
  return { ok: true, answers };
}

/**
 * A streamed answer's choices as they arrive, to be checked once the stream is whole: the same rules as
 * checkChoices, with nothing to repair, since the chunks have gone out.
 */
export class StreamedAnswers {
  /** By choice index; choice 0 is expected whatever arrives. */
  private readonly choices = new Map<number, { text: string; otherwise: boolean }>([[0, { text: "", otherwise: false }]]);

  add(index: number, delta: ChatChunk["choices"][number]["delta"]): void {
    let choice = this.choices.get(index);
    if (!choice) this.choices.set(index, (choice = { text: "", otherwise: false }));
    if (answersOtherwise(delta)) choice.otherwise = true;
    choice.text += contentText(delta.content) ?? "";
  }

  /** Throws `schema_validation` for the first choice, by index, that does not fit. */
  check(schema: CompiledSchema): void {
    for (const index of [...this.choices.keys()].sort((a, b) => a - b)) {
      const choice = this.choices.get(index)!;
      if (choice.otherwise) continue;
      const checked = checkOutput(schema, choice.text);
      if (!checked.ok) throw schemaValidationError(choice.text, checked.issues);
    }
  }
}

const REPAIR_ENDED = { deadline: "the request deadline passed while the answer was being repaired", left: "the client closed the request" };

/**
 * A valid answer wrapped in a code fence or prose is returned as the JSON alone, so that clients can
 * parse the content as it is; so is one that came as a list of parts, whose content was not a string.
 * The result is copied only when a choice changes.
 */
function asBareJson(result: ChatResult, answers: readonly CheckedAnswer[]): ChatResult {
  let choices: ChatResult["choices"] | undefined;
  answers.forEach((answer, i) => {
    const choice = result.choices[i]!;
    if (answer === undefined) return;
    const exact = isExactJson(answer.raw);
    if (exact && typeof choice.message.content === "string") return;
    choices ??= [...result.choices];
    choices[i] = { ...choice, message: { ...choice.message, content: exact ? answer.raw : JSON.stringify(answer.value) } };
  });
  return choices ? { ...result, choices } : result;
}

function isExactJson(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

export function addUsage(a: Usage, b: Usage): Usage {
  const sum: Usage = {
    inputTokens: a.inputTokens + b.inputTokens,
    outputTokens: a.outputTokens + b.outputTokens,
    cachedInputTokens: a.cachedInputTokens + b.cachedInputTokens,
    cacheWriteTokens: a.cacheWriteTokens + b.cacheWriteTokens,
    reasoningTokens: a.reasoningTokens + b.reasoningTokens,
  };
  const oneHour = (a.cacheWrite1hTokens ?? 0) + (b.cacheWrite1hTokens ?? 0);
  if (oneHour > 0) sum.cacheWrite1hTokens = oneHour;
  const audioIn = (a.audioInputTokens ?? 0) + (b.audioInputTokens ?? 0);
  if (audioIn > 0) sum.audioInputTokens = audioIn;
  const audioOut = (a.audioOutputTokens ?? 0) + (b.audioOutputTokens ?? 0);
  if (audioOut > 0) sum.audioOutputTokens = audioOut;
  const accepted = (a.acceptedPredictionTokens ?? 0) + (b.acceptedPredictionTokens ?? 0);
  if (accepted > 0) sum.acceptedPredictionTokens = accepted;
  const rejected = (a.rejectedPredictionTokens ?? 0) + (b.rejectedPredictionTokens ?? 0);
  if (rejected > 0) sum.rejectedPredictionTokens = rejected;
  // Only a figure for both calls means anything: half of one would understate the cost.
  if (a.providerCost !== undefined && b.providerCost !== undefined) sum.providerCost = new Decimal(a.providerCost).plus(b.providerCost).toFixed();
  return sum;
}
