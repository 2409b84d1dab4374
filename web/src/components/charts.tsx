// SPDX-License-Identifier: MIT
// Two hand-drawn SVG charts (no chart library: the bundle stays small). Each has a text equivalent.

export interface Datum {
  label: string;
  value: number;
  tone?: string;
}

const TONES = ["#0f5c8c", "#2e9d6a", "#e0a100", "#c0392b", "#7b5ea7", "#5d6d7e", "#16a3b8", "#d35400"];

/**
 * Horizontal bars: one row per datum, the bar an SVG rect sized in percent, so labels keep the
 * page's font size at every width (a scaled viewBox would shrink or blow up the text).
 */
export function BarChart({ data, title }: { data: Datum[]; title: string }) {
  const max = Math.max(1, ...data.map((d) => d.value));
  return (
    <figure className="chart">
      <figcaption>{title}</figcaption>
      <div className="bars" role="img" aria-label={`${title}: ${data.map((d) => `${d.label} ${d.value}`).join(", ")}`}>
        {data.map((d, i) => (
          <div className="bar-row" key={d.label} aria-hidden="true">
            <span className="bar-label">{d.label}</span>
            <svg className="bar-track" width="100%" height="16" preserveAspectRatio="none">
              <rect x="0" y="0" width={`${(100 * Math.max(0, d.value)) / max}%`} height="16" rx="3" fill={d.tone ?? TONES[i % TONES.length]} />
            </svg>
            <span className="bar-value">{d.value}</span>
          </div>
        ))}
      </div>
    </figure>
  );
}

/** Colours that mean something: statuses and priorities keep theirs in every chart. */
export const TONE_OF: Record<string, string> = {
  pending: "#5d6d7e",
  in_progress: "#e0a100",
  completed: "#2e9d6a",
  cancelled: "#aab4be",
  low: "#7fb3d5",
  medium: "#0f5c8c",
  high: "#e0a100",
  urgent: "#c0392b",
};

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
