/** The parts of the Gemini API (generativelanguage.googleapis.com) wire format that the adapter reads or writes. */

export interface GeminiFunctionCall {
  name: string;
  args?: Record<string, unknown>;
  /** Only some surfaces (Live API, Gemini 3) send one; OpenAI-style ids are generated when it is absent. */
  id?: string;
}

export interface GeminiPart {
  text?: string;
  /** A thought summary (only with includeThoughts): the model's reasoning, never answer content. */
  thought?: boolean;
  thoughtSignature?: string;
  inlineData?: { mimeType: string; data: string };
  fileData?: { fileUri: string; mimeType?: string };
  functionCall?: GeminiFunctionCall;
  functionResponse?: { name: string; response: Record<string, unknown> };
}

export interface GeminiContent {
  role: "user" | "model";
  parts: GeminiPart[];
}

export interface GeminiFunctionDeclaration {
  name: string;
  description?: string;
  /** Full JSON Schema, as OpenAI tools carry it (the older `parameters` takes only an OpenAPI subset). */
  parametersJsonSchema?: unknown;
}

export interface GeminiToolConfig {
  functionCallingConfig: { mode: "AUTO" | "ANY" | "NONE"; allowedFunctionNames?: string[] };
}

export interface GeminiGenerationConfig {
  maxOutputTokens?: number;
  temperature?: number;
  topP?: number;
  stopSequences?: string[];
  candidateCount?: number;
  seed?: number;
  responseMimeType?: string;
  responseJsonSchema?: unknown;
  thinkingConfig?: GeminiThinkingConfig;
}

/** Gemini 2.5 takes a token budget, Gemini 3 a level; a request sets one, never both. */
export interface GeminiThinkingConfig {
  thinkingBudget?: number;
  thinkingLevel?: "minimal" | "low" | "medium" | "high";
}

export interface GeminiRequest {
  contents: GeminiContent[];
  systemInstruction?: { parts: Array<{ text: string }> };
  generationConfig?: GeminiGenerationConfig;
  tools?: Array<{ functionDeclarations: GeminiFunctionDeclaration[] }>;
  toolConfig?: GeminiToolConfig;
}

/** Every count is optional: Google omits a field rather than sending 0 (no cache hit, no thinking). */
export interface GeminiModalityCount {
  modality?: string;
  tokenCount?: number;
}

export interface GeminiUsageMetadata {
  /** Includes cachedContentTokenCount. */
  promptTokenCount?: number;
  /** Excludes thoughtsTokenCount. */
  candidatesTokenCount?: number;
  thoughtsTokenCount?: number;
  cachedContentTokenCount?: number;
  /** Tokens of tool results (e.g. Google Search grounding) fed back to the model, billed as input. */
  toolUsePromptTokenCount?: number;
  /** The counts above by modality (TEXT, IMAGE, AUDIO, VIDEO): audio is billed at its own rate. */
  promptTokensDetails?: GeminiModalityCount[];
  cacheTokensDetails?: GeminiModalityCount[];
  candidatesTokensDetails?: GeminiModalityCount[];
  totalTokenCount?: number;
}

export interface GeminiCandidate {
  index?: number;
  content?: { role?: string; parts?: GeminiPart[] };
  finishReason?: string;
}

export interface GeminiResponse {
  candidates?: GeminiCandidate[];
  promptFeedback?: { blockReason?: string };
  usageMetadata?: GeminiUsageMetadata;
  modelVersion?: string;
  responseId?: string;
}

export interface GeminiEmbedRequest {
  requests: Array<{ model: string; content: { parts: Array<{ text: string }> }; outputDimensionality?: number }>;
}

/** Google's error body, shared by every Google API (google.rpc.Status in JSON). */
export interface GeminiErrorBody {
  error?: { code?: number; message?: string; status?: string; details?: Array<Record<string, unknown>> };
}
