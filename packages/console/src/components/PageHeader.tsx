import type { ReactNode } from 'react';
import { Link } from 'react-router';
import { useTitle } from '../lib/hooks';

/** Page title (the page's only <h1>, also the document title), optional breadcrumb, description and actions. */
export function PageHeader({
  title,
  description,
  actions,
  back,
}: {
  title: string;
  description?: ReactNode;
  actions?: ReactNode;
  back?: { to: string; label: string };
}) {
  useTitle(title);
  return (
    <header className="page-header">
      <div className="titles">
        {back && (
          <nav className="breadcrumb" aria-label="Breadcrumb">
            <Link to={back.to}>← {back.label}</Link>
          </nav>
        )}
        <h1>{title}</h1>
        {description && <p className="description">{description}</p>}
      </div>
      {actions && <div className="actions">{actions}</div>}
    </header>
  );
}
