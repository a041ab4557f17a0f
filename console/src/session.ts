import { createContext, useContext } from 'react';
import type { ApiClient } from './api';
import type { Me } from './types';

const STORAGE_KEY = 'llmendpoint.console.key';

/** The key is kept in this tab's sessionStorage only (gone when the tab closes; never a cookie). */
export const keyStore = {
  load: (): string | null => sessionStorage.getItem(STORAGE_KEY),
  save: (key: string) => sessionStorage.setItem(STORAGE_KEY, key),
  clear: () => sessionStorage.removeItem(STORAGE_KEY),
};

export interface Session {
  api: ApiClient;
  me: Me;
  refreshMe(): Promise<void>;
  signOut(): void;
}

export const SessionContext = createContext<Session | null>(null);

export function useSession(): Session {
  const session = useContext(SessionContext);
  if (!session) throw new Error('useSession outside a signed-in console');
  return session;
}
