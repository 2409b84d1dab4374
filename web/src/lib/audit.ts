// SPDX-License-Identifier: MIT
// Audit helpers without React: the template builder's editing steps and the score preview (the
// formula of API.md, so the builder's preview shows what a submission would score).
import type { AnswerValue, AuditQuestion, QuestionType } from "../api/types";

export type DraftQuestion = Omit<AuditQuestion, "id"> & { id?: string; key: string };

let seq = 0;
export function newQuestion(type: QuestionType = "yes_no"): DraftQuestion {
  seq += 1;
  return {
    key: `new-${seq}`,
    text: "",
    type,
    required: true,
    weight: type === "text" || type === "photo" ? 0 : 10,
    allowNa: false,
    passValue: type === "yes_no" ? true : null,
    min: null,
    max: null,
    options: type === "choice" ? ["Yes", "No"] : [],
    passOptions: type === "choice" ? ["Yes"] : [],
    photoRequired: type === "photo",
    failCreatesTask: null,
  };
}

export function fromTemplate(qs: AuditQuestion[]): DraftQuestion[] {
  return qs.map((q) => ({ ...q, key: q.id }));
}

/** The question moved by `delta` places (clamped); a new array. */
export function move<T>(list: T[], index: number, delta: number): T[] {
  const to = Math.max(0, Math.min(list.length - 1, index + delta));
  if (to === index) return list;
  const out = list.slice();
  const [x] = out.splice(index, 1);
  out.splice(to, 0, x);
  return out;
}

/** The POST/PATCH body of a question: only the fields its type uses. */
export function toBody(q: DraftQuestion): Record<string, unknown> {
  const b: Record<string, unknown> = {
    text: q.text.trim(),
    type: q.type,
    required: q.required,
    weight: q.weight,
    allowNa: q.allowNa,
    photoRequired: q.photoRequired,
  };
  if (q.id) b.id = q.id;
  if (q.type === "yes_no") b.passValue = q.passValue ?? true;
  if (q.type === "number") {
    if (q.min !== null) b.min = q.min;
    if (q.max !== null) b.max = q.max;
  }
  if (q.type === "choice") {
    b.options = q.options;
    b.passOptions = q.passOptions.filter((o) => q.options.includes(o));
  }
  if (q.failCreatesTask && (q.type === "yes_no" || q.type === "number" || q.type === "choice")) b.failCreatesTask = q.failCreatesTask;
  return b;
}

export interface PreviewAnswer {
  value?: AnswerValue;
  na?: boolean;
}

/** 1 passed, 0 failed, null not scored (text, photo, N/A, unanswered). */
export function judge(q: Pick<AuditQuestion, "type" | "passValue" | "min" | "max" | "passOptions">, a: PreviewAnswer | undefined): boolean | null {
  if (!a || a.na || a.value === undefined || a.value === null) return null;
  switch (q.type) {
    case "yes_no":
      return a.value === (q.passValue ?? true);
    case "number":
      return typeof a.value === "number" && (q.min === null || a.value >= q.min) && (q.max === null || a.value <= q.max);
    case "choice":
      return q.passOptions.includes(String(a.value));
    default:
      return null;
  }
}

/** scorePct with one decimal (100 when nothing weighs) and whether it reaches the threshold. */
export function score(
  qs: (Pick<AuditQuestion, "type" | "passValue" | "min" | "max" | "passOptions" | "weight"> & { key?: string; id?: string })[],
  answers: Record<string, PreviewAnswer>,
  threshold: number,
): { pct: number; passed: boolean } {
  let passed = 0;
  let scored = 0;
  for (const q of qs) {
    const j = judge(q, answers[q.id ?? q.key ?? ""]);
    if (j === null) continue;
    scored += q.weight;
    if (j) passed += q.weight;
  }
  const pct = scored === 0 ? 100 : Math.round((1000 * passed) / scored) / 10;
  return { pct, passed: pct >= threshold };
}
