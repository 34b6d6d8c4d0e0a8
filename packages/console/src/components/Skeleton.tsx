/** A grey shimmering placeholder while real data loads (hidden from screen readers; pair with aria-busy). */
export function Skeleton({ width = '4ch', height }: { width?: string; height?: string }) {
  return <span className="skeleton" aria-hidden="true" style={{ width, height }} />;
}
