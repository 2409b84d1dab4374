// SPDX-License-Identifier: MIT
// Manager dashboard: today's KPIs from /api/reports/summary, with charts of the team and the tasks.
import { api } from "../api/client";
import { activeStores } from "../api/lookups";
import type { ScoreItem, TeamView, TodoStats } from "../api/types";
import { BarChart, Donut, TONE_OF } from "../components/charts";
import { Empty, ErrorBox, Loading, PageHeader } from "../components/ui";
import { label } from "../lib/format";
import { columnLabel, summaryKpis, summaryTables } from "../lib/summary";
import { useAsync } from "../lib/useAsync";
import { Link } from "../router";
import type { PageProps } from "../Shell";

/** The per-store chart shows who is there when the summary has it, else the first figure. */
function chartColumn(cols: string[]): string {
  return cols.includes("present") ? "present" : cols[0];
}

export default function Dashboard(_props: PageProps) {
  const summary = useAsync((s) => api.get<Record<string, unknown>>("/api/reports/summary", undefined, s), "summary");
  const stats = useAsync((s) => api.get<TodoStats>("/api/todos/stats", undefined, s), "stats");
  const team = useAsync((s) => api.get<TeamView>("/api/attendance/team", undefined, s), "team");
  const scores = useAsync(
    (s) =>
      Promise.all([
        api.get<{ items: ScoreItem[] }>("/api/audits/scores", { groupBy: "store", from: new Date(Date.now() - 30 * 86400e3).toISOString() }, s),
        activeStores(s),
      ]).then(([sc, st]) => {
        const names = new Map(st.map((x) => [x.id, x.name]));
        return sc.items.map((i) => ({ ...i, name: names.get(i.key) ?? i.key.slice(0, 8) }));
      }),
    "scores",
  );
  const reload = () => {
    summary.reload();
    stats.reload();
    team.reload();
    scores.reload();
  };
  const kpis = summaryKpis(summary.data);
  const tables = summaryTables(summary.data);

  return (
    <div>
      <PageHeader title="Today">
        <button type="button" className="btn" onClick={reload}>
          Refresh
        </button>
        <Link className="btn" href="/team">
          Live team view
        </Link>
      </PageHeader>

      <section aria-labelledby="kpi-title" className="section">
        <h2 id="kpi-title">Key figures</h2>
        {summary.loading && !summary.data ? (
          <Loading />
        ) : summary.error ? (
          <ErrorBox error={summary.error} onRetry={summary.reload} />
        ) : kpis.length === 0 ? (
          <Empty>No figures for today yet.</Empty>
        ) : (
          <ul className="kpis">
            {kpis.map((k) => (
              <li key={k.key} className="kpi">
                <span className="kpi-value">{k.value}</span>
                <span className="kpi-label">{k.label}</span>
              </li>
            ))}
          </ul>
        )}
      </section>

      <section aria-labelledby="charts-title" className="section">
        <h2 id="charts-title">Charts</h2>
        <div className="grid-charts">
          <div className="card">
            {team.loading && !team.data ? (
              <Loading />
            ) : team.error ? (
              <ErrorBox error={team.error} onRetry={team.reload} />
            ) : team.data ? (
              <Donut
                title="Team right now"
                data={[
                  { label: "Present", value: team.data.summary.present, tone: "#2e9d6a" },
                  { label: "On break", value: team.data.summary.onBreak, tone: "#e0a100" },
                  { label: "Absent", value: team.data.summary.absent, tone: "#aab4be" },
                ]}
              />
            ) : null}
          </div>
          <div className="card">
            {stats.loading && !stats.data ? (
              <Loading />
            ) : stats.error ? (
              <ErrorBox error={stats.error} onRetry={stats.reload} />
            ) : stats.data ? (
              <BarChart
                title={`Tasks by status (${stats.data.total} total, ${stats.data.overdue} overdue)`}
                data={Object.entries(stats.data.byStatus ?? {}).map(([k, v]) => ({ label: label(k), value: v, tone: TONE_OF[k] }))}
              />
            ) : null}
          </div>
          <div className="card">
            {stats.data && (
              <BarChart
                title={`Tasks by priority · ${stats.data.completedLast7Days} completed in 7 days`}
                data={Object.entries(stats.data.byPriority ?? {}).map(([k, v]) => ({ label: label(k), value: v, tone: TONE_OF[k] }))}
              />
            )}
          </div>
          <section className="card" aria-label="Audit scores">
            {scores.loading && !scores.data ? (
              <Loading />
            ) : scores.error ? (
              <ErrorBox error={scores.error} onRetry={scores.reload} />
            ) : scores.data && scores.data.length > 0 ? (
              <>
                <BarChart
                  title="Audit score by store, last 30 days (%)"
                  data={scores.data.slice(0, 12).map((i) => ({ label: i.name.slice(0, 16), value: i.avgScorePct, tone: i.avgScorePct >= 80 ? "#2e9d6a" : "#d9534f" }))}
                />
                <p className="muted small">
                  {scores.data.reduce((n, i) => n + i.audits, 0)} audits ·{" "}
                  <Link href="/audits">results</Link>
                </p>
              </>
            ) : (
              <Empty>No audit submitted in the last 30 days.</Empty>
            )}
          </section>
        </div>
      </section>

      {tables.map((t) => (
        <section key={t.key} className="section" aria-label={t.title}>
          <h2>{t.title}</h2>
          {t.columns.length > 0 && t.nameKey && (
            <div className="card">
              <BarChart
                title={`${t.title}: ${columnLabel(chartColumn(t.columns)).toLowerCase()}`}
                data={t.rows.slice(0, 12).map((r) => ({ label: String(r[t.nameKey] ?? "").slice(0, 16), value: Number(r[chartColumn(t.columns)] ?? 0) }))}
              />
            </div>
          )}
          <div className="table-wrap">
            <table>
              <thead>
                <tr>
                  {t.nameKey && <th scope="col">{columnLabel(t.nameKey)}</th>}
                  {t.columns.map((c) => (
                    <th key={c} scope="col" className="num">
                      {columnLabel(c)}
                    </th>
                  ))}
                </tr>
              </thead>
              <tbody>
                {t.rows.map((r, i) => (
                  <tr key={i}>
                    {t.nameKey && <th scope="row">{String(r[t.nameKey] ?? "")}</th>}
                    {t.columns.map((c) => (
                      <td key={c} className="num">
                        {r[c] === null || r[c] === undefined ? "—" : String(r[c])}
                      </td>
                    ))}
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </section>
      ))}
    </div>
  );
}
