//! The demo crate.
use std::collections::HashMap;
use crate::net::client::Client;

mod net;

pub const LIMIT: usize = 8;

/// A point.
pub struct Point {
    x: i32,
}

pub enum Shape { Circle, Square }

pub trait Area {
    fn area(&self) -> f64;
}

impl Area for Point {
    fn area(&self) -> f64 { 0.0 }
}

impl Point {
    pub fn new(x: i32) -> Self { Point { x } }
}

pub fn run(points: &[Point]) -> usize { points.len() }

macro_rules! square { ($x:expr) => { $x * $x }; }
