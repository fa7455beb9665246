/**
 * The `model` a caller names is echoed in errors, written to the ledger and to logs, so it is bounded:
 * no catalog id, alias, tier or operation name comes near this length.
 */
export const MAX_MODEL_NAME_LENGTH = 256;

/** C0 and C1 controls (NUL among them: the store refuses it in text), and UTF-16 halves without their pair. */
const UNSAFE = /[\u0000-\u001f\u007f-\u009f]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
const UNSAFE_ALL = new RegExp(UNSAFE.source, "g");

/** Why a requested model name cannot be taken, or undefined when it can. */
export function modelNameProblem(model: string): string | undefined {
  if (model.length > MAX_MODEL_NAME_LENGTH) return `model must be at most ${MAX_MODEL_NAME_LENGTH} characters`;
  if (UNSAFE.test(model)) return "model must not contain control characters or unpaired surrogates";
  return undefined;
}

/**
 * A requested model name made safe to record as it stands: cut to the bound (with `…`), and each
 * control character or unpaired surrogate replaced by U+FFFD. A valid name comes back unchanged.
 */
export function modelLabel(model: string): string;
export function modelLabel(model: string | undefined): string | undefined;
export function modelLabel(model: string | undefined): string | undefined {
  if (model === undefined || modelNameProblem(model) === undefined) return model;
  // Cut first, so a pair split by the cut becomes a lone half, then replaced.
  const cut = model.length > MAX_MODEL_NAME_LENGTH ? `${model.slice(0, MAX_MODEL_NAME_LENGTH - 1)}…` : model;
  return cut.replace(UNSAFE_ALL, "\ufffd");
}
