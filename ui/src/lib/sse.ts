import { storedToken } from './auth';
import { ApiError, problemMessage } from './errors';

export interface SseMessage { id: string | null; event: string; data: string }

/**
 * An incremental text/event-stream parser (the WHATWG rules the UI needs: id, event, multi-line data,
 * comments, CR/LF line ends). EventSource cannot send the Authorization header, so the stream is read with
 * fetch and fed here piece by piece; a message split across network reads is completed by the next feed.
 */
export class SseParser {
  private buffer = '';
  private data: string[] = [];
  private event = '';
  private id: string | null = null;

  feed(text: string): SseMessage[] {
    this.buffer += text;
    const out: SseMessage[] = [];
    for (;;) {
      const m = /\r\n|\r|\n/.exec(this.buffer);
      // a lone CR at the very end may be the first half of CRLF: wait for more
      if (!m || (m[0] === '\r' && m.index === this.buffer.length - 1)) {
        break;
      }
      const line = this.buffer.slice(0, m.index);
      this.buffer = this.buffer.slice(m.index + m[0].length);
      if (line === '') {
        if (this.data.length) {
          out.push({ id: this.id, event: this.event || 'message', data: this.data.join('\n') });
        }
        this.data = [];
        this.event = '';
        continue;
      }
      if (line.startsWith(':')) {
        continue;
      }
      const colon = line.indexOf(':');
      const field = colon < 0 ? line : line.slice(0, colon);
      let value = colon < 0 ? '' : line.slice(colon + 1);
      if (value.startsWith(' ')) {
        value = value.slice(1);
      }
      if (field === 'data') {
        this.data.push(value);
      } else if (field === 'event') {
        this.event = value;
      } else if (field === 'id') {
        this.id = value;
      }
    }
    return out;
  }
}

/**
 * Reads a server-sent-event stream with the admin token in the header; calls onMessage for each message
 * until the stream ends (resolves) or fails (rejects with the problem's words). Abort with the signal.
 */
export async function readEvents(path: string, onMessage: (m: SseMessage) => void, signal: AbortSignal,
                                  lastEventId?: string | null): Promise<void> {
  const headers: Record<string, string> = { Accept: 'text/event-stream' };
  const token = storedToken();
  if (token) {
    headers.Authorization = `Bearer ${token}`;
  }
  if (lastEventId) {
    headers['Last-Event-ID'] = lastEventId;
  }
  const res = await fetch(path, { headers, signal });
  if (!res.ok || !res.body) {
    throw new ApiError(res.status, problemMessage(res.status, res.statusText, await res.text()));
  }
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  const parser = new SseParser();
  for (;;) {
    const { value, done } = await reader.read();
    if (done) {
      return;
    }
    parser.feed(value).forEach(onMessage);
  }
}
