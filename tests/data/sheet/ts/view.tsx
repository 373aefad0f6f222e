import { total } from "./index";

export function View(props: { n: number }): JSX.Element {
  return <div>{props.n}</div>;
}

export const Small = () => <span />;
