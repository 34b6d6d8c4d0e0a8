import { useId } from 'react';
import { fmtDate, fmtNumber, plural } from '../../lib/format';

/**
 * Activations per day as an inline SVG bar chart. Accessible: the SVG is an image with a text
 * summary (total, busiest day), and the exact figures are in a table behind "Show as table".
 */
export function ActivationsChart({ days }: { days: { date: string; count: number }[] }) {
  const titleId = useId();
  const descId = useId();
  const total = days.reduce((s, d) => s + d.count, 0);
  const max = Math.max(1, ...days.map((d) => d.count));
  const busiest = days.reduce<{ date: string; count: number } | undefined>(
    (b, d) => (d.count > (b?.count ?? 0) ? d : b),
    undefined,
  );
  const W = 600;
  const H = 150;
  const padL = 28;
  const padB = 20;
  const padT = 8;
  const innerH = H - padB - padT;
  const step = (W - padL) / Math.max(1, days.length);
  const barW = Math.max(2, step * 0.7);
  const ticks = max <= 4 ? Array.from({ length: max + 1 }, (_, i) => i) : [0, Math.round(max / 2), max];
  const y = (v: number) => padT + innerH - (v / max) * innerH;
  const label = (iso: string) => fmtDate(`${iso}T00:00:00Z`);
  const summary =
    total === 0
      ? 'No devices were activated in the last 30 days.'
      : `${plural(total, 'activation')} in the last 30 days; busiest day ${label(busiest!.date)} with ${fmtNumber(busiest!.count)}.`;
  return (
    <div className="chart" data-testid="activations-chart" data-total={total}>
      <svg viewBox={`0 0 ${W} ${H}`} role="img" aria-labelledby={`${titleId} ${descId}`}>
        <title id={titleId}>Device activations per day, last 30 days</title>
        <desc id={descId}>{summary}</desc>
        {ticks.map((t) => (
          <g key={t}>
            <line className="grid-line" x1={padL} x2={W} y1={y(t)} y2={y(t)} />
            <text className="axis" x={padL - 6} y={y(t) + 3} textAnchor="end">
              {t}
            </text>
          </g>
        ))}
        {days.map((d, i) => {
          const h = d.count === 0 ? 2 : Math.max(2, (d.count / max) * innerH);
          return (
            <rect
              key={d.date}
              className={`bar-rect${d.count === 0 ? ' zero' : ''}`}
              x={padL + i * step + (step - barW) / 2}
              y={padT + innerH - h}
              width={barW}
              height={h}
              rx={1.5}
            >
              <title>{`${label(d.date)}: ${d.count}`}</title>
            </rect>
          );
        })}
        {days.length > 0 && (
          <>
            <text className="axis" x={padL} y={H - 4}>
              {label(days[0]!.date)}
            </text>
            <text className="axis" x={W} y={H - 4} textAnchor="end">
              {label(days[days.length - 1]!.date)}
            </text>
          </>
        )}
      </svg>
      <p className="small muted" aria-hidden="true">
        {summary}
      </p>
      <details className="data-table">
        <summary>Show as table</summary>
        <table className="data">
          <caption className="visually-hidden">Device activations per day</caption>
          <thead>
            <tr>
              <th scope="col">Day</th>
              <th scope="col" className="num">
                Activations
              </th>
            </tr>
          </thead>
          <tbody>
            {days.map((d) => (
              <tr key={d.date}>
                <td>{label(d.date)}</td>
                <td className="num">{d.count}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </details>
    </div>
  );
}
