// SPDX-License-Identifier: MIT
// The objects of shared/API.md, as the client sees them.

export type Role = "admin" | "manager" | "merchandiser";

export interface User {
  id: string;
  email: string;
  firstName: string;
  lastName: string;
  role: Role;
  active: boolean;
  createdAt?: string;
  updatedAt?: string;
  lastLoginAt?: string | null;
}

export interface Store {
  id: string;
  code: string;
  name: string;
  address: string;
  latitude: number;
  longitude: number;
  geofenceRadiusM: number;
  timezone: string;
  active: boolean;
  createdAt?: string;
  updatedAt?: string;
}

export type TodoStatus = "pending" | "in_progress" | "completed" | "cancelled";
export type Priority = "low" | "medium" | "high" | "urgent";

export interface ChecklistItem {
  id: string;
  text: string;
  done: boolean;
}

export interface Todo {
  id: string;
  title: string;
  description?: string | null;
  status: TodoStatus;
  priority: Priority;
  dueAt?: string | null;
  assigneeId?: string | null;
  createdBy?: string | null;
  storeId?: string | null;
  checklist: ChecklistItem[];
  completedAt?: string | null;
  createdAt?: string;
  updatedAt?: string;
}

export interface GeoPoint {
  latitude: number;
  longitude: number;
  accuracyM?: number;
  distanceM?: number;
}

export type BreakType = "lunch" | "coffee" | "rest" | "other";

export interface AttendanceBreak {
  id: string;
  type: BreakType;
  startedAt: string;
  endedAt?: string | null;
}

export interface Attendance {
  id: string;
  userId: string;
  storeId: string;
  status: "open" | "on_break" | "closed";
  punchInAt: string;
  punchOutAt?: string | null;
  punchIn?: GeoPoint | null;
  punchOut?: GeoPoint | null;
  photoUrl?: string | null;
  breaks: AttendanceBreak[];
  workedMinutes?: number | null;
  breakMinutes?: number | null;
  netMinutes?: number | null;
  overtimeMinutes?: number | null;
  exception?: boolean;
  approvedOvertimeMinutes?: number | null;
}

export type ApprovalType = "leave" | "attendance_correction" | "overtime" | "geofence_exception";
export type ApprovalStatus = "pending" | "approved" | "rejected" | "cancelled";

export interface ApprovalStep {
  role: "admin" | "manager";
  status: "waiting" | "pending" | "approved" | "rejected" | "skipped" | "cancelled";
  actorId: string | null;
  comment: string | null;
  decidedAt: string | null;
}

/** A request of the approvals service (shared/API.md "Approvals"). */
export interface ApprovalRequest {
  id: string;
  type: ApprovalType;
  requesterId: string;
  requesterName?: string;
  payload: Record<string, unknown>;
  reason: string;
  status: ApprovalStatus;
  steps: ApprovalStep[];
  currentStep: number | null;
  currentRole?: "admin" | "manager" | null;
  createdAt: string;
  decidedAt: string | null;
}

export interface Pagination {
  page: number;
  limit: number;
  total: number;
  pages: number;
}

export interface Page<T> {
  items: T[];
  pagination: Pagination;
}

export interface TokenPair {
  accessToken: string;
  refreshToken: string;
  tokenType: "Bearer";
  expiresIn: number;
  user: User;
}

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

export interface TodoStats {
  total: number;
  byStatus: Record<string, number>;
  byPriority: Record<string, number>;
  overdue: number;
  completedLast7Days: number;
}

export interface TeamMember {
  user: User;
  status: string;
  attendance: Attendance | null;
}

export interface TeamView {
  summary: { total: number; present: number; onBreak: number; absent: number };
  members: TeamMember[];
}

export const ROLES: Role[] = ["admin", "manager", "merchandiser"];
export const PRIORITIES: Priority[] = ["low", "medium", "high", "urgent"];
export const STATUSES: TodoStatus[] = ["pending", "in_progress", "completed", "cancelled"];
export const BREAK_TYPES: BreakType[] = ["lunch", "coffee", "rest", "other"];

// ---- audits (API.md Wave 2) ----

export type QuestionType = "yes_no" | "number" | "choice" | "text" | "photo";
export const QUESTION_TYPES: QuestionType[] = ["yes_no", "number", "choice", "text", "photo"];

export interface AuditQuestion {
  id: string;
  text: string;
  type: QuestionType;
  required: boolean;
  weight: number;
  allowNa: boolean;
  passValue: boolean | null;
  min: number | null;
  max: number | null;
  options: string[];
  passOptions: string[];
  photoRequired: boolean;
  failCreatesTask: { priority: Priority; dueInHours: number } | null;
}

export interface AuditTemplate {
  id: string;
  name: string;
  description: string;
  version: number;
  active: boolean;
  passThresholdPct: number;
  questions: AuditQuestion[];
  used?: boolean;
}

export type AnswerValue = boolean | number | string | null;

export interface AuditAnswer {
  questionId: string;
  value: AnswerValue;
  na: boolean;
  comment: string | null;
  photoUrls: string[];
  passed: boolean | null;
}

export interface Audit {
  id: string;
  templateId: string;
  templateVersion: number;
  templateName?: string;
  storeId: string;
  userId: string;
  visitId: string | null;
  attendanceId: string | null;
  status: "draft" | "submitted";
  answers: AuditAnswer[];
  scorePct: number | null;
  passed: boolean | null;
  passThresholdPct?: number;
  correctiveTodoIds: string[];
  startedAt: string;
  submittedAt: string | null;
}

export interface ScoreItem {
  key: string;
  audits: number;
  avgScorePct: number;
  passRatePct: number;
}
