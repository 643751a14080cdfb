/**
 * A small line chart in SVG (no chart library: a few dozen points need none). Each series gets its
 * own colour and a legend entry with its total; the figure's text says the same for screen readers.
 */
export interface ChartSeries {
  label: string;
  values: number[];
  /** A CSS class giving the colour (`s1` … `s4` in style.css). */
  tone: string;
}

const W = 320;
const H = 120;
const PAD = 4;

export function LineChart({
  title,
  series,
  first,
  last,
}: {
  title: string;
  series: ChartSeries[];
  first: string;
  last: string;
}) {
  const n = Math.max(...series.map((s) => s.values.length), 1);
  const max = Math.max(1, ...series.flatMap((s) => s.values));
  const x = (i: number) => PAD + (n === 1 ? 0 : (i * (W - 2 * PAD)) / (n - 1));
  const y = (v: number) => H - PAD - (v * (H - 2 * PAD)) / max;
  const total = (s: ChartSeries) => s.values.reduce((a, b) => a + b, 0);
  const summary = series.map((s) => `${s.label} ${total(s)}`).join(', ');
  return (
    <figure class="chart">
      <figcaption>
        <strong>{title}</strong>
        <span class="sr-only">: {summary}</span>
      </figcaption>
      <svg viewBox={`0 0 ${W} ${H}`} role="img" aria-label={`${title}: ${summary}`} preserveAspectRatio="none">
        <line class="axis" x1={PAD} y1={H - PAD} x2={W - PAD} y2={H - PAD} />
        {series.map((s) => (
          <polyline
            key={s.label}
            class={`line ${s.tone}`}
            points={s.values.map((v, i) => `${x(i).toFixed(1)},${y(v).toFixed(1)}`).join(' ')}
          />
        ))}
      </svg>
      <div class="chart-axis" aria-hidden="true">
        <span>{first}</span>
        <span>max {max}</span>
        <span>{last}</span>
      </div>
      <ul class="legend">
        {series.map((s) => (
          <li key={s.label}>
            <span class={`swatch ${s.tone}`} aria-hidden="true" /> {s.label}: {total(s)}
          </li>
        ))}
      </ul>
    </figure>
  );
}
