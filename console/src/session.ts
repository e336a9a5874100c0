/** Who is signed in (GET /api/me), shared with every page so they hide what a viewer may not do. */
import { createContext } from 'preact';
import { useContext } from 'preact/hooks';
import type { Me } from './types';

export const SessionContext = createContext<Me | null>(null);

/** Whether the signed-in user may act (retry, cancel, send, generate load). */
export function useCanAct(): boolean {
  return useContext(SessionContext)?.user.role === 'operator';
}
