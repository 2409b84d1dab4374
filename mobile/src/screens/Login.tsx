// SPDX-License-Identifier: MIT
import { useState } from "react";
import { Text, TextInput, View } from "react-native";
import type { User } from "@dtm/api-client";
import { useServices } from "../services";
import { Btn, errorText, H, Note, styles } from "../ui";

export function Login({ onSignedIn }: { onSignedIn: (u: User) => void }) {
  const { api } = useServices();
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const submit = async () => {
    setBusy(true);
    setError(null);
    try {
      onSignedIn(await api.login(email.trim(), password));
    } catch (e) {
      setError(errorText(e));
    } finally {
      setBusy(false);
    }
  };
  return (
    <View style={[styles.screen, styles.body, { justifyContent: "center" }]}>
      <H>dtm · sign in</H>
      <Text style={styles.label}>Email</Text>
      <TextInput aria-label="Email" style={styles.input} autoCapitalize="none" keyboardType="email-address" value={email} onChangeText={setEmail} />
      <Text style={styles.label}>Password</Text>
      <TextInput aria-label="Password" style={styles.input} secureTextEntry value={password} onChangeText={setPassword} onSubmitEditing={submit} />
      {error && (
        <View role="alert">
          <Note tone="bad">{error}</Note>
        </View>
      )}
      <Btn label={busy ? "Signing in…" : "Sign in"} name="Sign in" disabled={busy || !email || !password} onPress={submit} />
    </View>
  );
}
