import { describe, expect, it } from 'vitest';
import { problemMessage } from './errors';

describe('problemMessage', () => {
  it('shows the problem detail', () => {
    const body = JSON.stringify({ type: 'about:blank', title: 'Unauthorized', status: 401,
      detail: "this route needs 'Authorization: Bearer <token>' with the admin token; the bearer token sent is not known" });
    expect(problemMessage(401, '', body)).toBe(
      "this route needs 'Authorization: Bearer <token>' with the admin token; the bearer token sent is not known");
  });

  it('adds field errors the detail does not already name', () => {
    const body = JSON.stringify({ title: 'Bad Request', status: 400, detail: 'invalid request',
      errors: [{ field: 'promptTokens', message: 'must be positive' }] });
    expect(problemMessage(400, 'Bad Request', body)).toBe('invalid request (promptTokens: must be positive)');
    const named = JSON.stringify({ detail: 'promptTokens: must be positive', errors: [{ field: 'promptTokens', message: 'must be positive' }] });
    expect(problemMessage(400, '', named)).toBe('promptTokens: must be positive');
  });

  it('falls back to the title, then to the status line', () => {
    expect(problemMessage(409, '', JSON.stringify({ title: 'Conflict' }))).toBe('Conflict');
    expect(problemMessage(502, 'Bad Gateway', '<html>proxy</html>')).toBe('HTTP 502 Bad Gateway');
    expect(problemMessage(500, '', '')).toBe('HTTP 500');
  });
});
