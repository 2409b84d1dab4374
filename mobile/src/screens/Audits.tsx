// SPDX-License-Identifier: MIT
// Audits in the open visit: pick a template (cached), answer (each answer a queued change with its
// capture time), submit. The score is computed by the server once the changes are synced; photo
// questions need the web client for now.
import { useEffect, useState } from "react";
import { Text, TextInput, View } from "react-native";
import type { AuditQuestion, AuditTemplate, Page } from "@dtm/api-client";
import { cachedGet } from "../offline/cache";
import { useServices } from "../services";
import { useNav } from "../nav";
import { Btn, errorText, Note, Screen, styles } from "../ui";

export function Audits() {
  const { db, api, field } = useServices();
  const nav = useNav();
  const [templates, setTemplates] = useState<AuditTemplate[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    cachedGet<Page<AuditTemplate> | { items: AuditTemplate[] }>(db, api, "/api/audits/templates", { limit: 100 }).then(
      (r) => setTemplates(r.data.items.filter((t) => t.active)),
      (e) => setError(errorText(e)),
    );
  }, [db, api]);
  return (
    <Screen title="Audits" onBack={nav.back}>
      {error && <Note tone="bad">{error}</Note>}
      {templates && templates.length === 0 && <Note>No audit templates.</Note>}
      {templates?.map((t) => (
        <View key={t.id} style={styles.card}>
          <Text style={styles.strong}>{t.name}</Text>
          <Note tone="muted">
            {t.questions.length} questions · pass at {t.passThresholdPct} %
          </Note>
          <Btn
            label="Start audit"
            name={`Start audit ${t.name}`}
            onPress={async () => {
              try {
                const c = await field.startAudit(t.id, t.name);
                nav.push({ name: "audit", template: t, auditKey: c.key });
              } catch (e) {
                setError(errorText(e));
              }
            }}
          />
        </View>
      ))}
    </Screen>
  );
}

function Question({ q, onAnswer }: { q: AuditQuestion; onAnswer: (v: boolean | number | string) => void }) {
  const [val, setVal] = useState<string>("");
  const [chosen, setChosen] = useState<string | null>(null);
  const pick = (label: string, v: boolean | string) => (
    <Btn
      key={label}
      label={label}
      kind={chosen === label ? "primary" : "plain"}
      name={`${q.text}: ${label}`}
      onPress={() => {
        setChosen(label);
        onAnswer(v);
      }}
    />
  );
  return (
    <View style={styles.card} role="listitem" aria-label={q.text}>
      <Text style={styles.strong}>
        {q.text}
        {q.required ? " *" : ""}
      </Text>
      {q.type === "yes_no" && <View style={styles.row}>{[pick("Yes", true), pick("No", false)]}</View>}
      {q.type === "choice" && <View style={styles.row}>{q.options.map((o) => pick(o, o))}</View>}
      {(q.type === "number" || q.type === "text") && (
        <TextInput
          aria-label={q.text}
          style={styles.input}
          keyboardType={q.type === "number" ? "numeric" : "default"}
          value={val}
          onChangeText={setVal}
          onBlur={() => {
            if (val === "") return;
            onAnswer(q.type === "number" ? Number(val) : val);
          }}
        />
      )}
      {q.type === "photo" && <Note tone="muted">Photo questions are answered in the web client for now.</Note>}
    </View>
  );
}

export function AuditForm({ template, auditKey }: { template: AuditTemplate; auditKey: string }) {
  const { field } = useServices();
  const nav = useNav();
  const [error, setError] = useState<string | null>(null);
  const [submitted, setSubmitted] = useState(false);
  const answer = (q: AuditQuestion) => (v: boolean | number | string) => {
    field.answer(auditKey, q.id, v, q.text).catch((e) => setError(errorText(e)));
  };
  return (
    <Screen title={template.name} onBack={nav.back}>
      {template.questions.map((q) => (
        <Question key={q.id} q={q} onAnswer={answer(q)} />
      ))}
      {error && <Note tone="bad">{error}</Note>}
      {submitted ? (
        <Note tone="ok">Submitted. The score appears in the web client once synced.</Note>
      ) : (
        <Btn
          label="Submit audit"
          onPress={async () => {
            try {
              await field.submitAudit(auditKey, template.name);
              setSubmitted(true);
            } catch (e) {
              setError(errorText(e));
            }
          }}
        />
      )}
    </Screen>
  );
}
