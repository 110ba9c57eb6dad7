import { useEffect, useRef, useState } from 'react';
import { barAt, layoutRects, type Gantt, type SegmentKind } from './lib/gantt';

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
 * A Gantt chart on a canvas, never one DOM node per bar: a timeline of thousands of chunks is drawn as at
 * most a few rectangles per pixel column and lane (see layoutRects). The bar counts are on the canvas as data
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
      ctx.fillStyle = '#222';
      ctx.fillText(lane.label, 4, AXIS_H + i * LANE_H + 15);
    });
    for (const r of layoutRects(gantt, plotW)) {
      const y = AXIS_H + r.lane * LANE_H;
      ctx.fillStyle = COLORS[r.kind];
      // compute fills the lane, the receive wait is thinner, the send a strip at the bottom
      const [inset, h] = r.kind === 'send' ? [15, 5] : r.kind === 'wait' ? [6, 10] : [3, 16];
      ctx.fillRect(LABEL_W + r.x, y + inset, r.width, h);
    }
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
