/** Tokens live in localStorage so a reload stays signed in; every read goes through here. */
const ACCESS = "revenge.accessToken";
const REFRESH = "revenge.refreshToken";
const PROFILE = "revenge.profileId";
const DEVICE = "revenge.deviceId";

function storage(): Storage | null {
  try {
    return typeof window === "undefined" ? null : window.localStorage;
  } catch {
    return null;
  }
}

type Listener = () => void;
const listeners = new Set<Listener>();

export function onTokensChange(listener: Listener): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

export function accessToken(): string | null {
  return storage()?.getItem(ACCESS) ?? null;
}

export function refreshToken(): string | null {
  return storage()?.getItem(REFRESH) ?? null;
}

export function profileId(): string | null {
  return storage()?.getItem(PROFILE) ?? null;
}

export function saveTokens(access: string, refresh?: string | null): void {
  const store = storage();
  if (!store) return;
  store.setItem(ACCESS, access);
  if (refresh) store.setItem(REFRESH, refresh);
  listeners.forEach((listener) => listener());
}

export function saveProfile(id: string): void {
  storage()?.setItem(PROFILE, id);
}

export function clearTokens(): void {
  const store = storage();
  if (!store) return;
  store.removeItem(ACCESS);
  store.removeItem(REFRESH);
  store.removeItem(PROFILE);
  listeners.forEach((listener) => listener());
}

/** A stable id for this browser, so starting something new replaces its own old session. */
export function deviceId(): string {
  const store = storage();
  let id = store?.getItem(DEVICE);
  if (!id) {
    id = `web-${Math.random().toString(36).slice(2)}${Date.now().toString(36)}`;
    store?.setItem(DEVICE, id);
  }
  return id;
}
