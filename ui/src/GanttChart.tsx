import { useEffect, useRef, useState } from 'react';
import { barAt, type Gantt, type SegmentKind } from './lib/gantt';

const COLORS: Record<SegmentKind, string> = {
  wait: '#f2b134',
  compute: '#2f6fba',
  send: '#54a24b',
  decode: '#8e5bb5',
};
const LANE_H = 22;
const LABEL_W = 110;
const AXIS_H = 20;

/**
 * A Gantt chart on a canvas: thousands of chunks stay one draw each (segments narrower than a pixel are
 * merged per pixel column), never one DOM node per bar. The bar counts are on the canvas as data
 * attributes for tests and tools.
 */
export function GanttChart({ gantt, label }: { gantt: Gantt; label: string }) {
  const canvas = useRef<HTMLCanvasElement>(null);
  const box = useRef<HTMLDivElement>(null);
  const [width, setWidth] = useState(1000);
  const [hover, setHover] = useState<string | null>(null);
  const height = AXIS_H + gantt.lanes.length * LANE_H + 4;
  const span = Math.max(gantt.endMs - gantt.startMs, 1e-9);

  useEffect(() => {
    const el = box.current;
    if (!el) {
      return;
    }
    const ro = new ResizeObserver(() => setWidth(Math.max(300, Math.floor(el.clientWidth))));
    ro.observe(el);
    return () => ro.disconnect();
  }, []);

  useEffect(() => {
    const c = canvas.current;
    const ctx = c?.getContext('2d');
    if (!c || !ctx) {
      return;
    }
    const dpr = window.devicePixelRatio || 1;
    c.width = width * dpr;
    c.height = height * dpr;
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, width, height);
    ctx.font = '12px system-ui, sans-serif';
    const plotW = width - LABEL_W - 8;
    const x = (ms: number) => LABEL_W + ((ms - gantt.startMs) / span) * plotW;
    // time axis
    ctx.fillStyle = '#555';
    ctx.strokeStyle = '#ddd';
    for (let i = 0; i <= 5; i++) {
      const ms = gantt.startMs + (span * i) / 5;
      const px = x(ms);
      ctx.beginPath();
      ctx.moveTo(px, AXIS_H - 4);
      ctx.lineTo(px, height);
      ctx.stroke();
      ctx.textAlign = i === 5 ? 'right' : i === 0 ? 'left' : 'center';
      ctx.fillText(`${ms.toFixed(ms < 10 ? 2 : 0)} ms`, px, 12);
    }
    ctx.textAlign = 'left';
    gantt.lanes.forEach((lane, i) => {
      const y = AXIS_H + i * LANE_H;
      ctx.fillStyle = '#222';
      ctx.fillText(lane.label, 4, y + 15);
      // the last pixel column drawn per kind: sub-pixel segments there are merged into it
      const lastPx: Partial<Record<SegmentKind, number>> = {};
      for (const bar of lane.bars) {
        for (const s of bar.segments) {
          const x0 = x(s.startMs);
          const w = x(s.endMs) - x0;
          if (w < 1) {
            const px = Math.floor(x0);
            if (lastPx[s.kind] === px) {
              continue;
            }
            lastPx[s.kind] = px;
          }
          ctx.fillStyle = COLORS[s.kind];
          const inset = s.kind === 'send' ? 13 : s.kind === 'wait' ? 6 : 3;
          const h = s.kind === 'send' ? 5 : s.kind === 'wait' ? 10 : 16;
          ctx.fillRect(x0, y + inset, Math.max(w, 1), h);
        }
      }
    });
  }, [gantt, width, height, span]);

  function onMove(ev: React.MouseEvent<HTMLCanvasElement>) {
    const rect = ev.currentTarget.getBoundingClientRect();
    const px = ev.clientX - rect.left;
    const lane = gantt.lanes[Math.floor((ev.clientY - rect.top - AXIS_H) / LANE_H)];
    if (!lane || px < LABEL_W) {
      setHover(null);
      return;
    }
    const ms = gantt.startMs + ((px - LABEL_W) / (width - LABEL_W - 8)) * span;
    const bar = barAt(lane, ms);
    if (!bar) {
      setHover(null);
      return;
    }
    const part = (k: SegmentKind) => {
      const s = bar.segments.find((g) => g.kind === k);
      return s ? `${k} ${(s.endMs - s.startMs).toFixed(2)} ms` : null;
    };
    const what = bar.decode ? `decode step ${bar.chunk}` : `chunk ${bar.chunk} (tokens ${bar.offset}–${bar.offset + bar.size - 1})`;
    setHover([lane.label, what, part('wait'), part('compute') ?? part('decode'), part('send')].filter(Boolean).join(' · '));
  }

  return (
    <figure className="gantt" ref={box}>
      <canvas
        ref={canvas}
        role="img"
        aria-label={`${label}: ${gantt.lanes.length} lanes, ${gantt.bars} bars`}
        data-bars={gantt.bars}
        data-chunk-bars={gantt.chunkBars}
        data-lanes={gantt.lanes.length}
        style={{ width: `${width}px`, height: `${height}px` }}
        onMouseMove={onMove}
        onMouseLeave={() => setHover(null)}
      />
      <figcaption>
        <span className="legend"><i style={{ background: COLORS.wait }} /> receive wait</span>
        <span className="legend"><i style={{ background: COLORS.compute }} /> compute</span>
        <span className="legend"><i style={{ background: COLORS.send }} /> send</span>
        <span className="legend"><i style={{ background: COLORS.decode }} /> decode step</span>
        <span className="hover" aria-live="polite">{hover ?? `${gantt.bars} bars on ${gantt.lanes.length} lanes`}</span>
      </figcaption>
    </figure>
  );
}
