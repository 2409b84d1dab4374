// SPDX-License-Identifier: MIT
// The objects of the API as the client sees them: aliases of the types generated from the contract
// (docs/openapi.yaml -> openapi.gen.ts, `npm --prefix web run gen:api`; web's `lint:api` fails
// when it is stale). Only what the document does not name is written here (Page<T>).
import type { components, operations } from "./openapi.gen";

type Schemas = components["schemas"];
type Json<R> = R extends { content: { "application/json": infer B } } ? B : never;

export type Role = Schemas["Role"];
export type User = Schemas["User"];
export type Store = Schemas["Store"];
export type TodoStatus = Schemas["TodoStatus"];
export type Priority = Schemas["Priority"];
export type Todo = Schemas["Todo"];
export type ChecklistItem = Todo["checklist"][number];
export type GeoPoint = Schemas["Location"];
export type Attendance = Schemas["Attendance"];
export type AttendanceBreak = Attendance["breaks"][number];
export type BreakType = AttendanceBreak["type"];
export type Pagination = Schemas["Pagination"];

export type ApprovalRequest = Schemas["ApprovalRequest"];
export type ApprovalType = ApprovalRequest["type"];
export type ApprovalStatus = ApprovalRequest["status"];
export type ApprovalStep = ApprovalRequest["steps"][number];

export interface Page<T> {
  items: T[];
  pagination: Pagination;
}

export type TokenPair = Json<components["responses"]["Tokens"]>;
export type TodoStats = Json<operations["getTodoStats"]["responses"][200]>;
export type TeamView = Json<operations["getTeamAttendance"]["responses"][200]>;
export type TeamMember = TeamView["members"][number];

/** The login's answer when a second factor is needed (or must first be enrolled). */
export interface MfaChallenge {
  mfaRequired: true;
  mfaEnrollmentRequired?: true;
  mfaToken: string;
  expiresIn: number;
}

export interface TotpSetup {
  secret: string;
  otpauthUri: string;
  qrSvg: string;
}

export interface MfaStatus {
  totpEnabled: boolean;
  recoveryCodesLeft: number;
  required: boolean;
}

export interface Session {
  id: string;
  device: string;
  userAgent: string;
  ip: string;
  createdAt: string;
  lastUsedAt: string;
  current: boolean;
}


export const ROLES: Role[] = ["admin", "manager", "merchandiser"];
export const PRIORITIES: Priority[] = ["low", "medium", "high", "urgent"];
export const STATUSES: TodoStatus[] = ["pending", "in_progress", "completed", "cancelled"];
export const BREAK_TYPES: BreakType[] = ["lunch", "coffee", "rest", "other"];

// ---- audits (API.md Wave 2) ----

export type QuestionType = Schemas["AuditQuestion"]["type"];
export const QUESTION_TYPES: QuestionType[] = ["yes_no", "number", "choice", "text", "photo"];

export type AuditQuestion = Schemas["AuditQuestionStored"];
export type AuditTemplate = Schemas["AuditTemplate"];
export type AnswerValue = Schemas["AuditAnswerValue"];
export type Audit = Schemas["Audit"];
export type AuditAnswer = Audit["answers"][number];
export type ScoreItem = Json<operations["getAuditScores"]["responses"][200]>["items"][number];
