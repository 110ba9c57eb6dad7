import { useState, type FormEvent } from 'react';
import { get, post, type Model } from '../lib/api';
import { errorText } from '../lib/errors';
import { bytes, num, when } from '../lib/format';
import { usePoll } from '../lib/hooks';
import { Card, ErrorBox } from '../components';

export function ModelsPage() {
  const models = usePoll(() => get<Model[]>('/api/v1/models'), 0);
  const [name, setName] = useState('');
  const [location, setLocation] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  async function register(e: FormEvent) {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await post<Model>('/api/v1/models', { name: name.trim(), location: location.trim() });
      setName('');
      setLocation('');
      models.reload();
    } catch (err) {
      setError(errorText(err));
    } finally {
      setBusy(false);
    }
  }

  return (
    <>
      <h1>Models</h1>
      <Card title="Registered models">
        <ErrorBox error={models.error} />
        <table>
          <thead><tr><th>Name</th><th>Architecture</th><th>Parameters</th><th>Size</th><th>Layers</th><th>Hidden</th><th>Heads (KV)</th><th>Vocabulary</th><th>Max positions</th><th>Tokenizer</th><th>Location</th><th>Registered</th></tr></thead>
          <tbody>
            {(models.data ?? []).map((m) => (
              <tr key={m.id}>
                <td>{m.name}</td><td>{m.architecture}</td><td>{num(m.parameters)}</td><td>{bytes(m.sizeBytes)}</td>
                <td>{m.layers}</td><td>{m.hiddenSize}</td><td>{m.attentionHeads} ({m.kvHeads})</td><td>{num(m.vocabSize)}</td>
                <td>{num(m.maxPositions)}</td><td>{m.hasTokenizer ? 'yes' : 'no'}</td><td><code>{m.location}</code></td><td>{when(m.registeredAt)}</td>
              </tr>
            ))}
          </tbody>
        </table>
        {models.data && !models.data.length && <p className="muted">No models registered yet.</p>}
      </Card>
      <Card title="Register a model directory">
        <form className="inline" onSubmit={register}>
          <label>Name <input value={name} onChange={(e) => setName(e.target.value)} required placeholder="llama-8b" /></label>
          <label className="wide">Directory (under the models root)
            <input value={location} onChange={(e) => setLocation(e.target.value)} required placeholder="/models/llama-8b" />
          </label>
          <button type="submit" disabled={busy}>Register</button>
        </form>
        <ErrorBox error={error} />
      </Card>
    </>
  );
}
