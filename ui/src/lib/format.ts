export function bytes(n: number | null | undefined): string {
  if (n === null || n === undefined) {
    return '–';
  }
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = 0;
  while (Math.abs(v) >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(i === 0 ? 0 : 1)} ${units[i]}`;
}

export function ms(n: number | null | undefined): string {
  if (n === null || n === undefined) {
    return '–';
  }
  return n >= 1000 ? `${(n / 1000).toFixed(2)} s` : `${n.toFixed(n < 10 ? 2 : 1)} ms`;
}

export function num(n: number | null | undefined, digits = 0): string {
  return n === null || n === undefined ? '–' : n.toLocaleString('en-US', { maximumFractionDigits: digits });
}

export function pct(n: number | null | undefined): string {
  return n === null || n === undefined ? '–' : `${(n * 100).toFixed(1)} %`;
}

export function when(iso: string | null | undefined): string {
  return iso ? new Date(iso).toLocaleString() : '–';
}

export function shortId(id: string | null | undefined): string {
  return id ? id.slice(0, 8) : '–';
}
