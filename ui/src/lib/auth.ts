// The admin token lives in sessionStorage: it is gone when the tab closes, and sign-out removes it.
const KEY = 'pipefill.adminToken';

export function storedToken(): string | null {
  return sessionStorage.getItem(KEY);
}

export function storeToken(token: string): void {
  sessionStorage.setItem(KEY, token);
}

export function clearToken(): void {
  sessionStorage.removeItem(KEY);
}
