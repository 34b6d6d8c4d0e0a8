import { Link } from 'react-router';
import { EmptyState, PageHeader } from '../components';

export function NotFoundPage() {
  return (
    <>
      <PageHeader title="Page not found" />
      <div className="card">
        <EmptyState title="There is no page at this address">
          <Link to="/">Go to the dashboard</Link>
        </EmptyState>
      </div>
    </>
  );
}
