import type { ReactNode } from 'react';

export function ErrorBox({ error }: { error: string | null | undefined }) {
  return error ? <p className="error" role="alert">{error}</p> : null;
}

export function StateBadge({ state }: { state: string }) {
  return <span className={`badge state-${state.toLowerCase()}`}>{state}</span>;
}

export function Card({ title, children, actions }: { title: string; children: ReactNode; actions?: ReactNode }) {
  return (
    <section className="card" aria-label={title}>
      <header><h2>{title}</h2>{actions}</header>
      {children}
    </section>
  );
}

export function Stat({ label, value, testId }: { label: string; value: ReactNode; testId?: string }) {
  return <div className="stat"><span>{label}</span><strong data-testid={testId}>{value}</strong></div>;
}

/** Counts of things by state, e.g. workers: IDLE 2 · BUSY 1. */
export function StateCounts({ states }: { states: string[] }) {
  const counts = new Map<string, number>();
  states.forEach((s) => counts.set(s, (counts.get(s) ?? 0) + 1));
  if (!counts.size) {
    return <span className="muted">none</span>;
  }
  return <>{[...counts].map(([s, n]) => <span key={s} className="count"><StateBadge state={s} /> {n}</span>)}</>;
}
