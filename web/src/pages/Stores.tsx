// SPDX-License-Identifier: MIT
// Stores: list, search, create, edit, deactivate.
import { useState, type FormEvent } from "react";
import { api } from "../api/client";
import { describeError } from "../api/errors";
import type { Page, Store } from "../api/types";
import { Badge, Empty, ErrorBox, Loading, Notice, PageHeader, Pager } from "../components/ui";
import { currentPosition } from "../lib/geo";
import { useAsync } from "../lib/useAsync";
import type { PageProps } from "../Shell";

export default function Stores(_props: PageProps) {
  const [search, setSearch] = useState("");
  const [active, setActive] = useState("true");
  const [page, setPage] = useState(1);
  const [editing, setEditing] = useState<Store | "new" | null>(null);
  const [flash, setFlash] = useState<string | null>(null);
  const q = { search, active, page, limit: 20 };
  const stores = useAsync((s) => api.get<Page<Store>>("/api/stores", q, s), JSON.stringify(q));
  const items = stores.data?.items ?? [];

  const deactivate = async (s: Store) => {
    if (!window.confirm(`Deactivate ${s.name}? Merchandisers will no longer be able to punch in there.`)) return;
    try {
      await api.del(`/api/stores/${s.id}`);
      setFlash(`${s.name} deactivated.`);
      stores.reload();
    } catch (e) {
      setFlash(describeError(e));
    }
  };

  return (
    <div>
      <PageHeader title="Stores">
        <button type="button" className="btn btn-primary" onClick={() => setEditing(editing ? null : "new")} aria-expanded={editing !== null}>
          {editing ? "Close form" : "New store"}
        </button>
      </PageHeader>
      {flash && <Notice>{flash}</Notice>}
      {editing && (
        <StoreForm
          key={editing === "new" ? "new" : editing.id}
          store={editing === "new" ? null : editing}
          onSaved={(s, created) => {
            setEditing(null);
            setFlash(`${s.name} ${created ? "created" : "saved"}.`);
            stores.reload();
          }}
        />
      )}
      <form className="filters" onSubmit={(e) => e.preventDefault()} aria-label="Store filters">
        <label className="field">
          <span>Search</span>
          <input
            type="search"
            value={search}
            onChange={(e) => {
              setSearch(e.target.value);
              setPage(1);
            }}
          />
        </label>
        <label className="field">
          <span>Show</span>
          <select
            value={active}
            onChange={(e) => {
              setActive(e.target.value);
              setPage(1);
            }}
          >
            <option value="true">Active</option>
            <option value="false">Inactive</option>
            <option value="">All</option>
          </select>
        </label>
      </form>
      {stores.loading && !stores.data ? (
        <Loading />
      ) : stores.error ? (
        <ErrorBox error={stores.error} onRetry={stores.reload} />
      ) : items.length === 0 ? (
        <Empty>No stores match. Create the first one with “New store”.</Empty>
      ) : (
        <div className="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">Code</th>
                <th scope="col">Name</th>
                <th scope="col">Address</th>
                <th scope="col">Geofence</th>
                <th scope="col">Time zone</th>
                <th scope="col">Status</th>
                <th scope="col">
                  <span className="sr-only">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {items.map((s) => (
                <tr key={s.id}>
                  <td>{s.code}</td>
                  <th scope="row">{s.name}</th>
                  <td>{s.address}</td>
                  <td>{s.geofenceRadiusM} m</td>
                  <td>{s.timezone}</td>
                  <td>
                    <Badge value={s.active ? "active" : "inactive"} />
                  </td>
                  <td className="row-actions">
                    <button type="button" className="btn btn-small" onClick={() => setEditing(s)} aria-label={`Edit ${s.name}`}>
                      Edit
                    </button>
                    {s.active && (
                      <button type="button" className="btn btn-small btn-danger" onClick={() => deactivate(s)} aria-label={`Deactivate ${s.name}`}>
                        Deactivate
                      </button>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <Pager p={stores.data?.pagination} onPage={setPage} />
    </div>
  );
}

function StoreForm({ store, onSaved }: { store: Store | null; onSaved: (s: Store, created: boolean) => void }) {
  const [f, setF] = useState({
    code: store?.code ?? "",
    name: store?.name ?? "",
    address: store?.address ?? "",
    latitude: store ? String(store.latitude) : "",
    longitude: store ? String(store.longitude) : "",
    geofenceRadiusM: store ? String(store.geofenceRadiusM) : "100",
    timezone: store?.timezone ?? (Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC"),
    active: store?.active ?? true,
  });
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const set = (k: keyof typeof f) => (e: { target: { value: string } }) => setF((x) => ({ ...x, [k]: e.target.value }));

  const here = async () => {
    setError(null);
    try {
      const p = await currentPosition();
      setF((x) => ({ ...x, latitude: p.latitude.toFixed(6), longitude: p.longitude.toFixed(6) }));
    } catch (e) {
      setError(describeError(e));
    }
  };

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const body = {
        code: f.code.trim(),
        name: f.name.trim(),
        address: f.address.trim(),
        latitude: Number(f.latitude),
        longitude: Number(f.longitude),
        geofenceRadiusM: Number(f.geofenceRadiusM),
        timezone: f.timezone.trim() || "UTC",
        ...(store ? { active: f.active } : {}),
      };
      const r = store
        ? await api.patch<{ store: Store }>(`/api/stores/${store.id}`, body)
        : await api.post<{ store: Store }>("/api/stores", body);
      onSaved(r.store, !store);
    } catch (err) {
      setError(describeError(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <form className="card form-grid" onSubmit={submit} aria-label={store ? `Edit ${store.name}` : "New store"}>
      <label className="field">
        <span>Code</span>
        <input type="text" required maxLength={50} value={f.code} onChange={set("code")} />
      </label>
      <label className="field">
        <span>Name</span>
        <input type="text" required maxLength={200} value={f.name} onChange={set("name")} />
      </label>
      <label className="field span-2">
        <span>Address</span>
        <input type="text" value={f.address} onChange={set("address")} />
      </label>
      <label className="field">
        <span>Latitude</span>
        <input type="number" required step="any" min={-90} max={90} value={f.latitude} onChange={set("latitude")} />
      </label>
      <label className="field">
        <span>Longitude</span>
        <input type="number" required step="any" min={-180} max={180} value={f.longitude} onChange={set("longitude")} />
      </label>
      <div className="span-2">
        <button type="button" className="btn btn-small" onClick={here}>
          Use my current position
        </button>
      </div>
      <label className="field">
        <span>Geofence radius (m)</span>
        <input type="number" required min={10} max={5000} value={f.geofenceRadiusM} onChange={set("geofenceRadiusM")} />
      </label>
      <label className="field">
        <span>Time zone (IANA)</span>
        <input type="text" value={f.timezone} onChange={set("timezone")} placeholder="Europe/Paris" />
      </label>
      {store && (
        <label className="check span-2">
          <input type="checkbox" checked={f.active} onChange={(e) => setF((x) => ({ ...x, active: e.target.checked }))} />
          <span>Active</span>
        </label>
      )}
      {error && (
        <div className="notice notice-error span-2" role="alert">
          {error}
        </div>
      )}
      <div className="span-2">
        <button type="submit" className="btn btn-primary" disabled={busy}>
          {store ? "Save store" : "Create store"}
        </button>
      </div>
    </form>
  );
}
