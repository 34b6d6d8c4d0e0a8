import { useState } from 'react';
import { Button } from '../../components';

/**
 * Copies `text` to the clipboard and says so on the button ("Copied"), in a live region so
 * screen-reader users hear the result too. `what` completes the accessible name ("Copy the CA
 * fingerprint") without changing the visible text.
 */
export function CopyButton({ text, what }: { text: string; what: string }) {
  const [state, setState] = useState<'idle' | 'copied' | 'failed'>('idle');
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(text);
      setState('copied');
    } catch {
      // No clipboard permission (or not a secure context): the value stays visible to select by hand.
      setState('failed');
    }
    window.setTimeout(() => setState('idle'), 2500);
  };
  return (
    <Button size="small" onClick={() => void copy()}>
      <span aria-live="polite">
        {state === 'copied' ? 'Copied' : state === 'failed' ? 'Select and copy' : 'Copy'}
      </span>
      <span className="visually-hidden"> {what}</span>
    </Button>
  );
}
