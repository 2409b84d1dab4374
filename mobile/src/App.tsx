import { Text } from "react-native";
import { openDatabaseAsync } from "expo-sqlite";
import { useEffect, useState } from "react";
export default function App() {
  const [v, setV] = useState("…");
  useEffect(() => { openDatabaseAsync("t.db").then(db => db.getFirstAsync<{v: string}>("select sqlite_version() as v")).then(r => setV(r?.v ?? "?"), e => setV(String(e))); }, []);
  return <Text>sqlite {v}</Text>;
}
