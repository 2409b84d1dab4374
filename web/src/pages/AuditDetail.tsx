// SPDX-License-Identifier: MIT
// One audit. Its author fills in a draft on site, one scrolling form: every answer is saved as it is
// given (partial saves), each question can take photos from the camera, and submitting shows the
// score. Everyone else (and the author afterwards) sees the results: answers, photos, the score
// breakdown per question and the corrective tasks.
import { useState } from "react";
import { api } from "../api/client";
import { ApiError, describeError } from "../api/errors";
import type { AnswerValue, Audit, AuditAnswer, AuditQuestion, AuditTemplate } from "../api/types";
import { AuthImage } from "../components/AuthImage";
import { Badge, ErrorBox, Loading, Notice, PageHeader } from "../components/ui";
import { dateTime } from "../lib/format";
import { useAsync } from "../lib/useAsync";
import { Link } from "../router";
import type { PageProps } from "../Shell";

interface Loaded {
  audit: Audit;
  template: AuditTemplate;
}

async function load(id: string, signal: AbortSignal): Promise<Loaded> {
  const { audit } = await api.get<{ audit: Audit }>(`/api/audits/${id}`, undefined, signal);
  const { template } = await api.get<{ template: AuditTemplate }>(`/api/audits/templates/${audit.templateId}`, { version: audit.templateVersion }, signal);
  return { audit, template };
}

export default function AuditDetail({ user, params }: PageProps) {
  const st = useAsync((s) => load(params.id, s), params.id);
  if (st.loading && !st.data) return <Loading />;
  if (st.error) return <ErrorBox error={st.error} onRetry={st.reload} />;
  if (!st.data) return null;
  const { audit, template } = st.data;
  const mine = audit.userId === user.id;
  const setAudit = (a: Audit) => st.setData({ audit: a, template });
  return (
    <div>
      <PageHeader title={template.name}>
        <Badge value={audit.status} tone={audit.status === "submitted" ? "ok" : "warn"} />
      </PageHeader>
      <p className="muted small">
        Started {dateTime(audit.startedAt)}
        {audit.submittedAt && <> · submitted {dateTime(audit.submittedAt)}</>} · version {audit.templateVersion}
      </p>
      {audit.status === "draft" && mine ? <AuditForm audit={audit} template={template} onChange={setAudit} /> : <Results audit={audit} template={template} />}
    </div>
  );
}

function answerOf(audit: Audit, qid: string): AuditAnswer | undefined {
  return audit.answers.find((a) => a.questionId === qid);
}

function AuditForm({ audit, template, onChange }: { audit: Audit; template: AuditTemplate; onChange: (a: Audit) => void }) {
  const [error, setError] = useState<string | null>(null);
  const [missing, setMissing] = useState<string[]>([]);
  const [busy, setBusy] = useState(false);

  const save = async (questionId: string, patch: { value?: AnswerValue; na?: boolean; comment?: string | null }) => {
    setError(null);
    try {
      const r = await api.patch<{ audit: Audit }>(`/api/audits/${audit.id}`, { answers: [{ questionId, ...patch, capturedAt: new Date().toISOString() }] });
      onChange(r.audit);
    } catch (e) {
      setError(describeError(e));
    }
  };

  const addPhoto = async (questionId: string, file: File) => {
    setError(null);
    const form = new FormData();
    form.append("questionId", questionId);
    form.append("photo", file, file.name || "photo.jpg");
    try {
      await api.request("POST", `/api/audits/${audit.id}/photos`, { form });
      const r = await api.get<{ audit: Audit }>(`/api/audits/${audit.id}`);
      onChange(r.audit);
    } catch (e) {
      setError(describeError(e));
    }
  };

  const submit = async () => {
    setBusy(true);
    setError(null);
    setMissing([]);
    try {
      const r = await api.post<{ audit: Audit }>(`/api/audits/${audit.id}/submit`);
      onChange(r.audit);
    } catch (e) {
      if (e instanceof ApiError && e.code === "incomplete" && Array.isArray(e.details)) setMissing(e.details as string[]);
      setError(describeError(e));
    } finally {
      setBusy(false);
    }
  };

  return (
    <form className="audit-form" aria-label="Audit form" onSubmit={(e) => e.preventDefault()}>
      <ol className="questions">
        {template.questions.map((q, i) => {
          const a = answerOf(audit, q.id);
          return (
            <li key={q.id} className={`card question ${missing.includes(q.id) ? "question-missing" : ""}`} aria-label={`Question ${i + 1}`}>
              <p className="big">
                {i + 1}. {q.text} {q.required && <span aria-label="required">*</span>}
              </p>
              {missing.includes(q.id) && <p className="notice notice-error">{q.photoRequired && a?.value !== undefined ? "A photo is required." : "This question needs an answer."}</p>}
              <AnswerInput q={q} a={a} onSave={(value) => save(q.id, { value })} />
              {q.allowNa && (
                <label className="check">
                  <input type="checkbox" checked={!!a?.na} onChange={(e) => save(q.id, { na: e.target.checked })} /> Not applicable
                </label>
              )}
              <label className="field">
                <span>Photo{q.photoRequired || q.type === "photo" ? " (required)" : ""}</span>
                <input
                  type="file"
                  accept="image/*"
                  capture="environment"
                  aria-label={`Photo for question ${i + 1}`}
                  onChange={(e) => {
                    const f = e.target.files?.[0];
                    if (f) void addPhoto(q.id, f);
                    e.target.value = "";
                  }}
                />
              </label>
              {(a?.photoUrls ?? []).length > 0 && (
                <div className="photos">
                  {a!.photoUrls.map((u) => (
                    <AuthImage key={u} className="photo-thumb" src={u} alt={`Photo for question ${i + 1}`} />
                  ))}
                </div>
              )}
            </li>
          );
        })}
      </ol>
      {error && (
        <div className="notice notice-error" role="alert">
          {error}
        </div>
      )}
      <button type="button" className="btn btn-primary btn-block btn-big" onClick={submit} disabled={busy}>
        {busy ? "Submitting…" : "Submit audit"}
      </button>
    </form>
  );
}

function AnswerInput({ q, a, onSave }: { q: AuditQuestion; a: AuditAnswer | undefined; onSave: (v: AnswerValue) => void }) {
  const [text, setText] = useState(typeof a?.value === "string" ? a.value : "");
  const v = a?.value ?? null;
  switch (q.type) {
    case "yes_no":
      return (
        <div className="row" role="group" aria-label={q.text}>
          <button type="button" className={`btn ${v === true ? "btn-primary" : ""}`} aria-pressed={v === true} onClick={() => onSave(true)}>
            Yes
          </button>
          <button type="button" className={`btn ${v === false ? "btn-primary" : ""}`} aria-pressed={v === false} onClick={() => onSave(false)}>
            No
          </button>
        </div>
      );
    case "number":
      return (
        <input
          type="number"
          inputMode="decimal"
          aria-label={q.text}
          defaultValue={typeof v === "number" ? v : ""}
          onBlur={(e) => onSave(e.target.value === "" ? null : Number(e.target.value))}
        />
      );
    case "choice":
      return (
        <select aria-label={q.text} value={typeof v === "string" ? v : ""} onChange={(e) => onSave(e.target.value || null)}>
          <option value="">—</option>
          {q.options.map((o) => (
            <option key={o} value={o}>
              {o}
            </option>
          ))}
        </select>
      );
    case "text":
      return <textarea aria-label={q.text} maxLength={5000} value={text} onChange={(e) => setText(e.target.value)} onBlur={() => onSave(text || null)} />;
    default:
      return null;
  }
}

function shown(a: AuditAnswer | undefined): string {
  if (!a) return "—";
  if (a.na) return "N/A";
  if (a.value === true) return "Yes";
  if (a.value === false) return "No";
  return a.value === null || a.value === undefined ? "—" : String(a.value);
}

function Results({ audit, template }: { audit: Audit; template: AuditTemplate }) {
  return (
    <>
      {audit.status === "submitted" ? (
        <Notice kind={audit.passed ? "ok" : "warn"}>
          <strong>Score {audit.scorePct} %</strong> · {audit.passed ? "passed" : "failed"} (pass at {template.passThresholdPct} %)
        </Notice>
      ) : (
        <Notice kind="warn">Not submitted yet.</Notice>
      )}
      <div className="table-wrap">
        <table aria-label="Score breakdown">
          <thead>
            <tr>
              <th scope="col">Question</th>
              <th scope="col">Answer</th>
              <th scope="col" className="num">
                Weight
              </th>
              <th scope="col">Result</th>
              <th scope="col">Photos</th>
            </tr>
          </thead>
          <tbody>
            {template.questions.map((q) => {
              const a = answerOf(audit, q.id);
              return (
                <tr key={q.id}>
                  <th scope="row">{q.text}</th>
                  <td>
                    {shown(a)}
                    {a?.comment && <div className="muted small">{a.comment}</div>}
                  </td>
                  <td className="num">{q.type === "text" || q.type === "photo" ? "—" : q.weight}</td>
                  <td>{a?.passed === true ? <Badge value="passed" tone="ok" /> : a?.passed === false ? <Badge value="failed" tone="warn" /> : <span className="muted">not scored</span>}</td>
                  <td>
                    {(a?.photoUrls ?? []).map((u) => (
                      <AuthImage key={u} className="photo-thumb" src={u} alt={`Photo: ${q.text}`} />
                    ))}
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      </div>
      {audit.correctiveTodoIds.length > 0 && (
        <section className="section" aria-labelledby="ct-title">
          <h2 id="ct-title">Corrective tasks</h2>
          <ul>
            {audit.correctiveTodoIds.map((id, i) => (
              <li key={id}>
                <Link href={`/tasks/${id}`}>Corrective task {i + 1}</Link>
              </li>
            ))}
          </ul>
        </section>
      )}
    </>
  );
}
