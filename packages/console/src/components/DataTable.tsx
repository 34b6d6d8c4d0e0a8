import type { ReactNode } from 'react';
import { Button } from './Button';
import { EmptyState } from './EmptyState';
import { fmtNumber } from '../lib/format';

export interface Column<T> {
  /** Column header (also the accessible name of the column). */
  header: string;
  /** Cell content. */
  cell: (row: T) => ReactNode;
  /** Right-aligned numbers. */
  numeric?: boolean;
  /** Hide below 700 px. */
  optional?: boolean;
}

export interface Pagination {
  total: number;
  limit: number;
  offset: number;
  onPage: (offset: number) => void;
}

/**
 * A table of rows with an accessible caption, loading skeleton rows, an honest empty state and
 * offset pagination ("1–50 of 1,234", Previous/Next). Rows are keyed by `rowKey`.
 */
export function DataTable<T>({
  caption,
  columns,
  rows,
  rowKey,
  loading,
  empty,
  pagination,
  testId,
}: {
  caption: string;
  columns: Column<T>[];
  rows: T[] | undefined;
  rowKey: (row: T) => string;
  loading?: boolean;
  empty?: ReactNode;
  pagination?: Pagination;
  testId?: string;
}) {
  const showSkeleton = rows === undefined && loading;
  return (
    // Focusable region: at 390 px the table scrolls sideways, and keyboard users scroll it with the arrows
    // (axe scrollable-region-focusable).
    <div className="table-wrap" data-testid={testId} role="region" aria-label={caption} tabIndex={0}>
      <table className="data">
        <caption className="visually-hidden">{caption}</caption>
        <thead>
          <tr>
            {columns.map((c) => (
              <th key={c.header} scope="col" className={c.numeric ? 'num' : undefined}>
                {c.header}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {showSkeleton &&
            [0, 1, 2, 3, 4].map((i) => (
              <tr key={`s${i}`} aria-hidden="true">
                {columns.map((c) => (
                  <td key={c.header}>
                    <span className="skeleton" style={{ width: `${50 + ((i * 17) % 40)}%` }} />
                  </td>
                ))}
              </tr>
            ))}
          {rows?.map((r) => (
            <tr key={rowKey(r)}>
              {columns.map((c) => (
                <td key={c.header} className={c.numeric ? 'num' : undefined}>
                  {c.cell(r)}
                </td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
      {rows && rows.length === 0 && (empty ?? <EmptyState title="Nothing here yet" />)}
      {pagination && rows && pagination.total > 0 && <Pager {...pagination} shown={rows.length} />}
    </div>
  );
}

function Pager({ total, limit, offset, onPage, shown }: Pagination & { shown: number }) {
  const from = total === 0 ? 0 : offset + 1;
  const to = offset + shown;
  return (
    <nav className="pagination" aria-label="Pagination">
      <span aria-live="polite">
        {fmtNumber(from)}–{fmtNumber(to)} of {fmtNumber(total)}
      </span>
      <span className="spacer" />
      <Button size="small" disabled={offset === 0} onClick={() => onPage(Math.max(0, offset - limit))}>
        Previous
      </Button>
      <Button size="small" disabled={to >= total} onClick={() => onPage(offset + limit)}>
        Next
      </Button>
    </nav>
  );
}
