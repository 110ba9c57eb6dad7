import { describe, expect, it } from 'vitest';
import { SseParser } from './sse';

describe('SseParser', () => {
  it('parses id, event and data, and completes a message split across reads', () => {
    const p = new SseParser();
    expect(p.feed('id:1\nevent:STATE\ndata:{"a":')).toEqual([]);
    expect(p.feed('1}\n\nid:2\nevent:PROGRESS\ndata:{}\n')).toEqual([{ id: '1', event: 'STATE', data: '{"a":1}' }]);
    expect(p.feed('\n')).toEqual([{ id: '2', event: 'PROGRESS', data: '{}' }]);
  });

  it('joins data lines, ignores comments and accepts CRLF split between reads', () => {
    const p = new SseParser();
    expect(p.feed(': keep-alive\r\ndata: one\r\ndata: two\r')).toEqual([]);
    expect(p.feed('\n\r\n')).toEqual([{ id: null, event: 'message', data: 'one\ntwo' }]);
  });

  it('keeps the last id for later messages and drops a message without data', () => {
    const p = new SseParser();
    expect(p.feed('id: 7\n\ndata: x\n\n')).toEqual([{ id: '7', event: 'message', data: 'x' }]);
  });
});
