import { useEffect, useState, type FormEvent } from 'react';
import { HashRouter, NavLink, Navigate, Route, Routes } from 'react-router-dom';
import { api, setUnauthorizedHandler } from './lib/api';
import { clearToken, storedToken, storeToken } from './lib/auth';
import { errorText } from './lib/errors';
import { OverviewPage } from './pages/Overview';
import { ModelsPage } from './pages/Models';
import { PlannerPage } from './pages/Planner';
import { DeploymentsPage, DeploymentDetailPage } from './pages/Deployments';
import { RunsPage } from './pages/Runs';
import { RunDetailPage } from './pages/RunDetail';

function SignIn({ onSignedIn }: { onSignedIn: () => void }) {
  const [token, setToken] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  async function submit(e: FormEvent) {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      // any admin route proves the token; the node list is small
      await api('GET', '/api/v1/nodes', undefined, token.trim());
      storeToken(token.trim());
      onSignedIn();
    } catch (err) {
      setError(errorText(err));
    } finally {
      setBusy(false);
    }
  }

  return (
    <main className="signin">
      <form onSubmit={submit} aria-label="Sign in">
        <h1>pipefill</h1>
        <p>Sign in with the admin token (<code>pipefill up</code> prints where it is kept).</p>
        <label>Admin token
          <input name="token" type="password" autoComplete="off" autoFocus value={token}
                 onChange={(e) => setToken(e.target.value)} required />
        </label>
        <button type="submit" disabled={busy || !token.trim()}>Sign in</button>
        {error && <p className="error" role="alert">{error}</p>}
      </form>
    </main>
  );
}

export function App() {
  const [signedIn, setSignedIn] = useState(() => storedToken() !== null);
  useEffect(() => {
    setUnauthorizedHandler(() => {
      clearToken();
      setSignedIn(false);
    });
  }, []);

  if (!signedIn) {
    return <SignIn onSignedIn={() => setSignedIn(true)} />;
  }
  const link = ({ isActive }: { isActive: boolean }) => (isActive ? 'active' : '');
  return (
    <HashRouter>
      <header className="top">
        <span className="brand">pipefill</span>
        <nav aria-label="Main">
          <NavLink to="/" end className={link}>Overview</NavLink>
          <NavLink to="/models" className={link}>Models</NavLink>
          <NavLink to="/planner" className={link}>Planner</NavLink>
          <NavLink to="/deployments" className={link}>Deployments</NavLink>
          <NavLink to="/runs" className={link}>Runs</NavLink>
        </nav>
        <button type="button" className="link" onClick={() => { clearToken(); setSignedIn(false); }}>Sign out</button>
      </header>
      <main className="page">
        <Routes>
          <Route path="/" element={<OverviewPage />} />
          <Route path="/models" element={<ModelsPage />} />
          <Route path="/planner" element={<PlannerPage />} />
          <Route path="/deployments" element={<DeploymentsPage />} />
          <Route path="/deployments/:ref" element={<DeploymentDetailPage />} />
          <Route path="/runs" element={<RunsPage />} />
          <Route path="/runs/:id" element={<RunDetailPage />} />
          <Route path="*" element={<Navigate to="/" replace />} />
        </Routes>
      </main>
    </HashRouter>
  );
}
