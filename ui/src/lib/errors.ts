/** An answer from the API that was not a success, in words: the problem+json detail (and field errors). */
export class ApiError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
    this.name = 'ApiError';
  }
}

interface FieldError {
  field?: string;
  message?: string;
}

/**
 * The words to show for a failed answer: the problem+json `detail`, then each field error, or the status
 * line when the body is not a problem document (a proxy's HTML page, an empty body).
 */
export function problemMessage(status: number, statusText: string, body: string): string {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    parsed = undefined;
  }
  if (parsed && typeof parsed === 'object') {
    const p = parsed as { detail?: unknown; title?: unknown; errors?: unknown };
    let text = typeof p.detail === 'string' && p.detail ? p.detail
      : typeof p.title === 'string' && p.title ? p.title : '';
    if (Array.isArray(p.errors)) {
      const fields = (p.errors as FieldError[])
        .filter((e) => e && (e.field || e.message))
        .map((e) => (e.field ? `${e.field}: ${e.message ?? ''}` : `${e.message}`).trim());
      const missing = fields.filter((f) => !text.includes(f));
      if (missing.length) {
        text = text ? `${text} (${missing.join('; ')})` : missing.join('; ');
      }
    }
    if (text) {
      return text;
    }
  }
  return `HTTP ${status}${statusText ? ' ' + statusText : ''}`;
}

/** Any thrown value as a sentence for the page. */
export function errorText(e: unknown): string {
  if (e instanceof Error) {
    return e.message;
  }
  return String(e);
}
