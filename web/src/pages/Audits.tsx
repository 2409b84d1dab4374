// SPDX-License-Identifier: MIT
// Managers: audit templates (a builder with add/reorder/remove and a live preview of the score)
// and the latest audits with their scores.
import { useMemo, useState, type FormEvent } from "react";
import { api } from "../api/client";
import { describeError } from "../api/errors";
import { activeStores } from "../api/lookups";
import type { Audit, AuditTemplate, Page, Priority, QuestionType } from "../api/types";
import { PRIORITIES, QUESTION_TYPES } from "../api/types";
import { Badge, Empty, ErrorBox, Loading, Notice, PageHeader } from "../components/ui";
import { fromTemplate, move, newQuestion, score, toBody, type DraftQuestion, type PreviewAnswer } from "../lib/audit";
import { dateTime, label } from "../lib/format";
import { useAsync } from "../lib/useAsync";
import { Link } from "../router";
import type { PageProps } from "../Shell";

export default function Audits(_props: PageProps) {
  const templates = useAsync((s) => api.get<Page<AuditTemplate>>("/api/audits/templates", { limit: 100 }, s), "templates");
  const audits = useAsync((s) => api.get<Page<Audit>>("/api/audits", { limit: 20, status: "submitted" }, s), "audits");
  const stores = useAsync((s) => activeStores(s), "stores");
  const storeName = useMemo(() => new Map((stores.data ?? []).map((s) => [s.id, s.name])), [stores.data]);
  const [editing, setEditing] = useState<AuditTemplate | "new" | null>(null);
  const [saved, setSaved] = useState<string | null>(null);

  return (
    <div>
      <PageHeader title="Audits">
        <button type="button" className="btn btn-primary" onClick={() => setEditing("new")}>
          New template
        </button>
      </PageHeader>
      {saved && <Notice>{saved}</Notice>}
      {editing && (
        <TemplateBuilder
          template={editing === "new" ? null : editing}
          onCancel={() => setEditing(null)}
          onSaved={(t) => {
            setEditing(null);
            setSaved(`Template "${t.name}" saved (version ${t.version}).`);
            templates.reload();
          }}
        />
      )}
      <section className="section" aria-labelledby="tpl-title">
        <h2 id="tpl-title">Templates</h2>
        {templates.loading && !templates.data ? (
          <Loading />
        ) : templates.error ? (
          <ErrorBox error={templates.error} onRetry={templates.reload} />
        ) : (templates.data?.items ?? []).length === 0 ? (
          <Empty>No templates yet.</Empty>
        ) : (
          <div className="table-wrap">
            <table>
              <thead>
                <tr>
                  <th scope="col">Name</th>
                  <th scope="col" className="num">
                    Questions
                  </th>
                  <th scope="col" className="num">
                    Pass at
                  </th>
                  <th scope="col">Version</th>
                  <th scope="col">
                    <span className="sr-only">Actions</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {templates.data!.items.map((t) => (
                  <tr key={t.id}>
                    <th scope="row">
                      {t.name} {!t.active && <Badge value="inactive" tone="warn" />}
                    </th>
                    <td className="num">{t.questions.length}</td>
                    <td className="num">{t.passThresholdPct} %</td>
                    <td>v{t.version}</td>
                    <td>
                      <button type="button" className="btn btn-small" onClick={() => setEditing(t)} aria-label={`Edit ${t.name}`}>
                        Edit
                      </button>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </section>
      <section className="section" aria-labelledby="res-title">
        <h2 id="res-title">Latest results</h2>
        {audits.loading && !audits.data ? (
          <Loading />
        ) : audits.error ? (
          <ErrorBox error={audits.error} onRetry={audits.reload} />
        ) : (audits.data?.items ?? []).length === 0 ? (
          <Empty>No audit has been submitted yet.</Empty>
        ) : (
          <ul className="stack">
            {audits.data!.items.map((a) => (
              <li key={a.id} className="card">
                <Link href={`/audits/${a.id}`}>
                  <strong>{a.templateName ?? "Audit"}</strong> at {storeName.get(a.storeId) ?? "a store"}
                </Link>{" "}
                · {a.scorePct} % <Badge value={a.passed ? "passed" : "failed"} tone={a.passed ? "ok" : "warn"} />{" "}
                <span className="muted small">{dateTime(a.submittedAt)}</span>
              </li>
            ))}
          </ul>
        )}
      </section>
    </div>
  );
}

function TemplateBuilder({ template, onCancel, onSaved }: { template: AuditTemplate | null; onCancel: () => void; onSaved: (t: AuditTemplate) => void }) {
  const [name, setName] = useState(template?.name ?? "");
  const [description, setDescription] = useState(template?.description ?? "");
  const [threshold, setThreshold] = useState(template?.passThresholdPct ?? 80);
  const [questions, setQuestions] = useState<DraftQuestion[]>(() => (template ? fromTemplate(template.questions) : [newQuestion()]));
  const [preview, setPreview] = useState<Record<string, PreviewAnswer>>({});
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  const update = (i: number, patch: Partial<DraftQuestion>) => setQuestions((qs) => qs.map((q, k) => (k === i ? { ...q, ...patch } : q)));
  const result = score(questions, preview, threshold);

  const save = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    const body = { name, description, passThresholdPct: threshold, questions: questions.map(toBody) };
    try {
      const r = template
        ? await api.patch<{ template: AuditTemplate }>(`/api/audits/templates/${template.id}`, body)
        : await api.post<{ template: AuditTemplate }>("/api/audits/templates", body);
      onSaved(r.template);
    } catch (err) {
      setError(describeError(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <form className="card builder" onSubmit={save} aria-label="Template builder">
      <h2>{template ? `Edit ${template.name}` : "New template"}</h2>
      {template?.used && <Notice kind="warn">Audits already answered this version: saving creates version {template.version + 1}.</Notice>}
      <label className="field">
        <span>Name</span>
        <input required maxLength={200} value={name} onChange={(e) => setName(e.target.value)} />
      </label>
      <label className="field">
        <span>Description</span>
        <input maxLength={2000} value={description} onChange={(e) => setDescription(e.target.value)} />
      </label>
      <label className="field">
        <span>Pass threshold (%)</span>
        <input type="number" min={0} max={100} value={threshold} onChange={(e) => setThreshold(Number(e.target.value))} />
      </label>
      <ol className="questions">
        {questions.map((q, i) => (
          <li key={q.key} className="question" aria-label={`Question ${i + 1}`}>
            <div className="question-head">
              <strong>Question {i + 1}</strong>
              <button type="button" className="btn btn-small" onClick={() => setQuestions((qs) => move(qs, i, -1))} disabled={i === 0} aria-label={`Move question ${i + 1} up`}>
                ↑
              </button>
              <button type="button" className="btn btn-small" onClick={() => setQuestions((qs) => move(qs, i, 1))} disabled={i === questions.length - 1} aria-label={`Move question ${i + 1} down`}>
                ↓
              </button>
              <button type="button" className="btn btn-small btn-danger" onClick={() => setQuestions((qs) => qs.filter((_, k) => k !== i))} disabled={questions.length === 1} aria-label={`Remove question ${i + 1}`}>
                Remove
              </button>
            </div>
            <label className="field">
              <span>Text</span>
              <input required maxLength={500} value={q.text} onChange={(e) => update(i, { text: e.target.value })} />
            </label>
            <div className="row">
              <label className="field inline">
                <span>Type</span>
                <select value={q.type} onChange={(e) => update(i, { ...newQuestion(e.target.value as QuestionType), key: q.key, id: q.id, text: q.text })}>
                  {QUESTION_TYPES.map((t) => (
                    <option key={t} value={t}>
                      {label(t)}
                    </option>
                  ))}
                </select>
              </label>
              <label className="field inline">
                <span>Weight</span>
                <input type="number" min={0} max={100} value={q.weight} onChange={(e) => update(i, { weight: Number(e.target.value) })} />
              </label>
              <label className="check">
                <input type="checkbox" checked={q.required} onChange={(e) => update(i, { required: e.target.checked })} /> Required
              </label>
              <label className="check">
                <input type="checkbox" checked={q.allowNa} onChange={(e) => update(i, { allowNa: e.target.checked })} /> N/A allowed
              </label>
              <label className="check">
                <input type="checkbox" checked={q.photoRequired} onChange={(e) => update(i, { photoRequired: e.target.checked })} /> Photo required
              </label>
            </div>
            {q.type === "yes_no" && (
              <label className="field inline">
                <span>Passes when</span>
                <select value={q.passValue === false ? "no" : "yes"} onChange={(e) => update(i, { passValue: e.target.value === "yes" })}>
                  <option value="yes">Yes</option>
                  <option value="no">No</option>
                </select>
              </label>
            )}
            {q.type === "number" && (
              <div className="row">
                <label className="field inline">
                  <span>Minimum</span>
                  <input type="number" value={q.min ?? ""} onChange={(e) => update(i, { min: e.target.value === "" ? null : Number(e.target.value) })} />
                </label>
                <label className="field inline">
                  <span>Maximum</span>
                  <input type="number" value={q.max ?? ""} onChange={(e) => update(i, { max: e.target.value === "" ? null : Number(e.target.value) })} />
                </label>
              </div>
            )}
            {q.type === "choice" && (
              <div className="row">
                <label className="field inline">
                  <span>Options (comma-separated)</span>
                  <input value={q.options.join(", ")} onChange={(e) => update(i, { options: e.target.value.split(",").map((s) => s.trim()).filter(Boolean) })} />
                </label>
                <label className="field inline">
                  <span>Passing options</span>
                  <input value={q.passOptions.join(", ")} onChange={(e) => update(i, { passOptions: e.target.value.split(",").map((s) => s.trim()).filter(Boolean) })} />
                </label>
              </div>
            )}
            {(q.type === "yes_no" || q.type === "number" || q.type === "choice") && (
              <div className="row">
                <label className="check">
                  <input
                    type="checkbox"
                    checked={!!q.failCreatesTask}
                    onChange={(e) => update(i, { failCreatesTask: e.target.checked ? { priority: "high", dueInHours: 24 } : null })}
                  />{" "}
                  A failure creates a task
                </label>
                {q.failCreatesTask && (
                  <>
                    <label className="field inline">
                      <span>Priority</span>
                      <select value={q.failCreatesTask.priority} onChange={(e) => update(i, { failCreatesTask: { ...q.failCreatesTask!, priority: e.target.value as Priority } })}>
                        {PRIORITIES.map((p) => (
                          <option key={p} value={p}>
                            {label(p)}
                          </option>
                        ))}
                      </select>
                    </label>
                    <label className="field inline">
                      <span>Due in (hours)</span>
                      <input type="number" min={1} max={8760} value={q.failCreatesTask.dueInHours} onChange={(e) => update(i, { failCreatesTask: { ...q.failCreatesTask!, dueInHours: Number(e.target.value) } })} />
                    </label>
                  </>
                )}
              </div>
            )}
          </li>
        ))}
      </ol>
      <div className="row">
        {QUESTION_TYPES.map((t) => (
          <button key={t} type="button" className="btn btn-small" onClick={() => setQuestions((qs) => [...qs, newQuestion(t)])}>
            Add {label(t).toLowerCase()} question
          </button>
        ))}
      </div>

      <section className="card preview" aria-label="Preview">
        <h3>Preview</h3>
        <p className="muted small">Answer as a merchandiser would to see the score.</p>
        {questions.map((q, i) => (
          <div key={q.key} className="field">
            <span>
              {i + 1}. {q.text || "(no text yet)"} {q.required && <span aria-label="required">*</span>}
            </span>
            <PreviewInput q={q} value={preview[q.key]} onChange={(a) => setPreview((p) => ({ ...p, [q.key]: a }))} />
          </div>
        ))}
        <p className="big" role="status">
          Score {result.pct} % · {result.passed ? "passes" : "fails"} (threshold {threshold} %)
        </p>
      </section>

      {error && (
        <div className="notice notice-error" role="alert">
          {error}
        </div>
      )}
      <div className="actions">
        <button type="submit" className="btn btn-primary" disabled={busy}>
          {busy ? "Saving…" : "Save template"}
        </button>
        <button type="button" className="btn" onClick={onCancel}>
          Cancel
        </button>
      </div>
    </form>
  );
}

function PreviewInput({ q, value, onChange }: { q: DraftQuestion; value: PreviewAnswer | undefined; onChange: (a: PreviewAnswer) => void }) {
  const name = `Preview answer ${q.text || q.key}`;
  if (q.type === "yes_no")
    return (
      <select aria-label={name} value={value?.value === true ? "yes" : value?.value === false ? "no" : ""} onChange={(e) => onChange({ value: e.target.value === "" ? null : e.target.value === "yes" })}>
        <option value="">—</option>
        <option value="yes">Yes</option>
        <option value="no">No</option>
      </select>
    );
  if (q.type === "number")
    return <input aria-label={name} type="number" value={typeof value?.value === "number" ? value.value : ""} onChange={(e) => onChange({ value: e.target.value === "" ? null : Number(e.target.value) })} />;
  if (q.type === "choice")
    return (
      <select aria-label={name} value={typeof value?.value === "string" ? value.value : ""} onChange={(e) => onChange({ value: e.target.value || null })}>
        <option value="">—</option>
        {q.options.map((o) => (
          <option key={o} value={o}>
            {o}
          </option>
        ))}
      </select>
    );
  return <span className="muted small">{q.type === "photo" ? "Photo (not scored)" : "Free text (not scored)"}</span>;
}
