// SPDX-License-Identifier: MIT
// Two hand-drawn SVG charts (no chart library: the bundle stays small). Each has a text equivalent.

export interface Datum {
  label: string;
  value: number;
  tone?: string;
}

const TONES = ["#0f5c8c", "#2e9d6a", "#e0a100", "#c0392b", "#7b5ea7", "#5d6d7e", "#16a3b8", "#d35400"];

export function BarChart({ data, title }: { data: Datum[]; title: string }) {
  const max = Math.max(1, ...data.map((d) => d.value));
  const rowH = 28;
  const labelW = 110;
  const w = 320;
  const h = Math.max(rowH, data.length * rowH);
  return (
    <figure className="chart">
      <figcaption>{title}</figcaption>
      <svg viewBox={`0 0 ${w} ${h}`} width="100%" role="img" aria-label={`${title}: ${data.map((d) => `${d.label} ${d.value}`).join(", ")}`}>
        {data.map((d, i) => {
          const bw = ((w - labelW - 40) * d.value) / max;
          const y = i * rowH;
          return (
            <g key={d.label}>
              <text x={0} y={y + rowH / 2 + 5} className="chart-label">
                {d.label}
              </text>
              <rect x={labelW} y={y + 5} width={Math.max(bw, d.value > 0 ? 2 : 0)} height={rowH - 10} rx={3} fill={d.tone ?? TONES[i % TONES.length]} />
              <text x={labelW + bw + 6} y={y + rowH / 2 + 5} className="chart-value">
                {d.value}
              </text>
            </g>
          );
        })}
      </svg>
    </figure>
  );
}

export function Donut({ data, title }: { data: Datum[]; title: string }) {
  const total = data.reduce((n, d) => n + Math.max(0, d.value), 0);
  const r = 40;
  const c = 2 * Math.PI * r;
  let offset = 0;
  return (
    <figure className="chart chart-donut">
      <figcaption>{title}</figcaption>
      <div className="donut-wrap">
        <svg viewBox="0 0 100 100" width="120" height="120" role="img" aria-label={`${title}: ${data.map((d) => `${d.label} ${d.value}`).join(", ")}`}>
          <circle cx="50" cy="50" r={r} fill="none" stroke="#e6eaee" strokeWidth="14" />
          {total > 0 &&
            data.map((d, i) => {
              const len = (c * Math.max(0, d.value)) / total;
              const el = (
                <circle
                  key={d.label}
                  cx="50"
                  cy="50"
                  r={r}
                  fill="none"
                  stroke={d.tone ?? TONES[i % TONES.length]}
                  strokeWidth="14"
                  strokeDasharray={`${len} ${c - len}`}
                  strokeDashoffset={-offset}
                  transform="rotate(-90 50 50)"
                />
              );
              offset += len;
              return el;
            })}
          <text x="50" y="55" textAnchor="middle" className="donut-total">
            {total}
          </text>
        </svg>
        <ul className="legend">
          {data.map((d, i) => (
            <li key={d.label}>
              <span className="swatch" style={{ background: d.tone ?? TONES[i % TONES.length] }} aria-hidden="true" />
              {d.label}: <strong>{d.value}</strong>
            </li>
          ))}
        </ul>
      </div>
    </figure>
  );
}
