/**
 * Reading AWS SDK errors for the Batch path: which ones a later try can get past (throttling,
 * 5xx, dropped connections), and a one-line description for messages. The SDK's error objects
 * are not attached as `cause`: their bodies can carry request details we do not want printed.
 */

export interface AwsErrorDetails {
  name: string;
  message: string;
  statusCode?: number;
  requestId?: string;
}

export function awsErrorDetails(error: unknown): AwsErrorDetails {
  if (!(error instanceof Error)) return { name: "Error", message: String(error) };
  const meta = (error as { $metadata?: { httpStatusCode?: number; requestId?: string } }).$metadata;
  return {
    name: error.name,
    message: redact(error.message),
    statusCode: meta?.httpStatusCode,
    requestId: meta?.requestId,
  };
}

/** "ClientException (HTTP 400): message [request id abc]" */
export function describeAwsError(error: unknown): string {
  const d = awsErrorDetails(error);
  const status = d.statusCode === undefined ? "" : ` (HTTP ${d.statusCode})`;
  const request = d.requestId === undefined ? "" : ` [request id ${d.requestId}]`;
  return `${d.name}${status}: ${d.message}${request}`;
}

const THROTTLING = new Set([
  "ThrottlingException",
  "TooManyRequestsException",
  "RequestLimitExceeded",
  "ServiceUnavailableException",
]);
const NETWORK = new Set([
  "TimeoutError",
  "ECONNRESET",
  "ECONNREFUSED",
  "ETIMEDOUT",
  "EPIPE",
  "EAI_AGAIN",
]);

/**
 * Worth another try. AWS Batch reports throttling as a ClientException with HTTP 429 and
 * "Too Many Requests." rather than a dedicated error name, so the status and text count too.
 */
export function isRetryableAwsError(error: unknown): boolean {
  const d = awsErrorDetails(error);
  const code = (error as { code?: unknown } | undefined)?.code;
  if (THROTTLING.has(d.name) || NETWORK.has(d.name)) return true;
  if (typeof code === "string" && NETWORK.has(code)) return true;
  if (d.name === "ServerException") return true;
  if (d.statusCode !== undefined && (d.statusCode === 429 || d.statusCode >= 500)) return true;
  return /too many requests|rate exceeded|throttl/i.test(d.message);
}

export function isAccessDenied(error: unknown): boolean {
  const d = awsErrorDetails(error);
  return (
    d.name === "AccessDeniedException" ||
    d.statusCode === 403 ||
    /not authorized to perform|access ?denied/i.test(d.message)
  );
}

/** Belt and braces: AWS messages do not quote access key ids today, but never echo one. */
function redact(message: string): string {
  return message.replace(/\b(AKIA|ASIA)[A-Z0-9]{12,}\b/g, "$1…");
}
