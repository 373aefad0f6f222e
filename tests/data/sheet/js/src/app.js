/** The app module. */
import { util } from "./util";
import React from "react";
const cfg = require("../config.json");

// Starts the app.
export function start(port = 80) {
  return util(port);
}

export default class App extends Base {
  constructor(opts) { super(); }
  static create() { return new App(); }
  render() {}
}

export const VERSION = "1.0";
const handler = async (req, res) => { res.end(); };
