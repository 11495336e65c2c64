//! Case Study 3: an order page that runs one query for the user's orders and
//! then one per order for its items (N+1), against a real SQLite database
//! (bundled, a file in the case's directory) served by a thread of its own as
//! a database server on another host: each answer comes a round trip of 0.3
//! ms after its query. The wall-clock profile of the page's thread sees the
//! waits and names the per-order query's call site; its CPU profile, which
//! cannot see waiting, holds a small fraction of that time. The single JOIN, and then a small cache in front of it, are the
//! seed's two fixes, measured in pages per second.

use std::collections::{HashMap, VecDeque};
use std::fmt::Write as _;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use rusqlite::{Connection, params};
use sonde::cpu::{self, CpuOptions};

use crate::demo::analyze::{self, pct, sh, short};
use crate::demo::{Ctx, Outcome};

/// The network's round trip to the database server.
const ROUND_TRIP: Duration = Duration::from_micros(300);
const USERS: i64 = 50;
const ORDERS_PER_USER: i64 = 20;
const ITEMS_PER_ORDER: i64 = 3;

/// An order item: product, quantity, price in cents, description.
pub type Item = (String, i64, i64, String);

/// An order with its items.
pub struct Order {
    pub id: i64,
    pub items: Vec<Item>,
}

/// The queries the page sends.
enum Query {
    /// `SELECT id FROM orders WHERE user_id = ?`
    Orders(i64),
    /// `SELECT … FROM order_items WHERE order_id = ?`
    Items(i64),
    /// The JOIN of both for a user.
    OrdersWithItems(i64),
}

/// A result row: the order's id, and an item when the query returns items.
type Row = (i64, Option<Item>);

/// A request on the wire: the query and where to send its rows.
type Request = (Query, mpsc::Sender<rusqlite::Result<Vec<Row>>>);

/// The connection to the database server: SQLite (a file in the case's
/// directory) on a thread of its own, `database`, as a server on another
/// host, each answer a network round trip after its query. Its CPU is its
/// own, not the page's.
#[derive(Clone)]
pub struct Db {
    wire: mpsc::Sender<Request>,
}

impl Db {
    /// Creates and fills the database and starts its server.
    fn open(path: &Path) -> Result<(Db, std::thread::JoinHandle<()>)> {
        let _ = std::fs::remove_file(path);
        let conn = Connection::open(path).with_context(|| format!("opening {}", path.display()))?;
        conn.execute_batch(
            "CREATE TABLE orders (id INTEGER PRIMARY KEY, user_id INTEGER NOT NULL);
             CREATE TABLE order_items (id INTEGER PRIMARY KEY, order_id INTEGER NOT NULL,
                 product TEXT NOT NULL, qty INTEGER NOT NULL, price INTEGER NOT NULL, description TEXT NOT NULL);
             CREATE INDEX orders_user ON orders(user_id);
             CREATE INDEX items_order ON order_items(order_id);",
        )?;
        let tx = conn.unchecked_transaction()?;
        for o in 0..USERS * ORDERS_PER_USER {
            tx.execute(
                "INSERT INTO orders (id, user_id) VALUES (?1, ?2)",
                params![o, o % USERS],
            )?;
            for i in 0..ITEMS_PER_ORDER {
                let description = format!("<b>Item {i}</b> of order {o} & its \"details\" ").repeat(8);
                tx.execute(
                    "INSERT INTO order_items (order_id, product, qty, price, description) VALUES (?1, ?2, ?3, ?4, ?5)",
                    params![
                        o,
                        format!("product-{}", (o * 7 + i) % 100),
                        1 + i,
                        199 + 100 * i,
                        description
                    ],
                )?;
            }
        }
        tx.commit()?;
        let (wire, requests) = mpsc::channel::<Request>();
        let server = std::thread::Builder::new().name("database".into()).spawn(move || {
            for (query, reply) in requests {
                std::thread::sleep(ROUND_TRIP);
                let _ = reply.send(execute(&conn, &query));
            }
        })?;
        Ok((Db { wire }, server))
    }

    /// One query: sent, then waited for (the round trip and the server's work).
    #[inline(never)]
    fn query(&self, q: Query) -> Result<Vec<Row>> {
        let (reply, answer) = mpsc::channel();
        self.wire
            .send((q, reply))
            .map_err(|_| anyhow::anyhow!("the database server stopped"))?;
        let rows = answer.recv().context("the database server stopped")??;
        Ok(rows)
    }
}

/// The server's side of a query.
fn execute(conn: &Connection, q: &Query) -> rusqlite::Result<Vec<Row>> {
    let item = |r: &rusqlite::Row<'_>, at: usize| -> rusqlite::Result<Item> {
        Ok((r.get(at)?, r.get(at + 1)?, r.get(at + 2)?, r.get(at + 3)?))
    };
    let (sql, key, items_at) = match q {
        Query::Orders(user) => ("SELECT id FROM orders WHERE user_id = ?1 ORDER BY id", *user, None),
        Query::Items(order) => (
            "SELECT order_id, product, qty, price, description FROM order_items WHERE order_id = ?1 ORDER BY id",
            *order,
            Some(1),
        ),
        Query::OrdersWithItems(user) => (
            "SELECT o.id, i.product, i.qty, i.price, i.description FROM orders o
             JOIN order_items i ON o.id = i.order_id WHERE o.user_id = ?1 ORDER BY o.id, i.id",
            *user,
            Some(1),
        ),
    };
    let mut stmt = conn.prepare_cached(sql)?;
    stmt.query_map([key], |r| Ok((r.get(0)?, items_at.map(|at| item(r, at)).transpose()?)))?
        .collect()
}

/// The user's orders, without items.
#[inline(never)]
pub fn get_orders(db: &Db, user: i64) -> Result<Vec<Order>> {
    let rows = db.query(Query::Orders(user))?;
    let orders = rows
        .into_iter()
        .map(|(id, _)| Order { id, items: Vec::new() })
        .collect();
    // Not a tail call: the frame stays on the stack for the profiles to name.
    Ok(std::hint::black_box(orders))
}

/// One order's items: the query run once per order.
#[inline(never)]
pub fn get_order_items(db: &Db, order: i64) -> Result<Vec<Item>> {
    let rows = db.query(Query::Items(order))?;
    Ok(std::hint::black_box(
        rows.into_iter().filter_map(|(_, item)| item).collect(),
    ))
}

/// Before: N+1 queries.
#[inline(never)]
pub fn get_orders_with_items_n_plus_1(db: &Db, user: i64) -> Result<Vec<Order>> {
    let mut orders = get_orders(db, user)?;
    for o in &mut orders {
        o.items = get_order_items(db, o.id)?;
    }
    Ok(orders)
}

/// After: one query with a JOIN.
#[inline(never)]
pub fn get_orders_with_items_join(db: &Db, user: i64) -> Result<Vec<Order>> {
    let mut orders: Vec<Order> = Vec::new();
    for (id, item) in db.query(Query::OrdersWithItems(user))? {
        let item = item.into_iter();
        match orders.last_mut() {
            Some(o) if o.id == id => o.items.extend(item),
            _ => orders.push(Order {
                id,
                items: item.collect(),
            }),
        }
    }
    Ok(orders)
}

/// The page's HTML: every order with its items, descriptions escaped, totals.
#[inline(never)]
pub fn render_page(orders: &[Order]) -> String {
    let mut html = String::with_capacity(64 << 10);
    let mut total = 0i64;
    for o in orders {
        let _ = write!(html, "<h2>Order {}</h2><table>", o.id);
        for (product, qty, price, description) in &o.items {
            let _ = write!(
                html,
                "<tr><td>{product}</td><td>{qty}</td><td>{}.{:02}</td><td>",
                price / 100,
                price % 100
            );
            for c in description.chars() {
                match c {
                    '<' => html.push_str("&lt;"),
                    '>' => html.push_str("&gt;"),
                    '&' => html.push_str("&amp;"),
                    '"' => html.push_str("&quot;"),
                    c => html.push(c),
                }
            }
            html.push_str("</td></tr>");
            total += qty * price;
        }
        html.push_str("</table>");
    }
    let _ = write!(html, "<p>Total: {}.{:02}</p>", total / 100, total % 100);
    html
}

/// The seed's second step: a small cache of pages' data by user, in front of the JOIN.
pub struct Cached {
    map: HashMap<i64, Arc<Vec<Order>>>,
    order: VecDeque<i64>,
    capacity: usize,
    pub hits: u64,
    pub misses: u64,
}

impl Cached {
    fn new(capacity: usize) -> Cached {
        Cached {
            map: HashMap::new(),
            order: VecDeque::new(),
            capacity,
            hits: 0,
            misses: 0,
        }
    }

    #[inline(never)]
    pub fn get_orders_with_items(&mut self, db: &Db, user: i64) -> Result<Arc<Vec<Order>>> {
        if let Some(o) = self.map.get(&user) {
            self.hits += 1;
            return Ok(o.clone());
        }
        self.misses += 1;
        let orders = Arc::new(get_orders_with_items_join(db, user)?);
        if self.order.len() == self.capacity {
            if let Some(old) = self.order.pop_front() {
                self.map.remove(&old);
            }
        }
        self.order.push_back(user);
        self.map.insert(user, orders.clone());
        Ok(orders)
    }
}

/// The users asking for pages: a few are much busier than the rest (as shoppers are).
fn user(i: u64) -> i64 {
    let x = i.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 40;
    if x % 10 < 8 {
        (x % 8) as i64
    } else {
        (x % USERS as u64) as i64
    }
}

/// Pages served by `page` for `duration`.
fn pages_per_second(duration: Duration, mut page: impl FnMut(u64) -> Result<usize>) -> Result<f64> {
    let t = Instant::now();
    let mut n = 0u64;
    while t.elapsed() < duration {
        std::hint::black_box(page(n)?);
        n += 1;
    }
    Ok(n as f64 / t.elapsed().as_secs_f64())
}

pub fn run(ctx: &Ctx, o: &mut Outcome) -> Result<()> {
    let secs = ctx.pick(1.0, 2.0);
    o.planted = format!(
        "the order page runs 1 + {ORDERS_PER_USER} queries (one per order) against a SQLite server thread, each a {} ms round trip away",
        ROUND_TRIP.as_secs_f64() * 1e3
    );
    let db_path = ctx.file("orders.db");

    // The page served on a thread of its own while the main thread profiles it.
    let stop = Arc::new(AtomicBool::new(false));
    let pages = Arc::new(AtomicU64::new(0));
    let (db, database) = Db::open(&db_path)?;
    let server = {
        let (stop, pages, db) = (stop.clone(), pages.clone(), db.clone());
        std::thread::Builder::new()
            .name("orders-page".into())
            .spawn(move || -> Result<()> {
                let mut i = 0u64;
                while !stop.load(Relaxed) {
                    let orders = get_orders_with_items_n_plus_1(&db, user(i))?;
                    std::hint::black_box(render_page(&orders));
                    pages.fetch_add(1, Relaxed);
                    i += 1;
                }
                Ok(())
            })?
    };
    let profiler = cpu::start(CpuOptions::default().frequency(1000).thread_labels(true))?;
    let t = Instant::now();
    // 100 Hz, as fgprof samples: each tick reads every thread's state.
    let wall = sonde::threads::wall_profile(Duration::from_secs_f64(secs), 100);
    let cpu_profile = profiler.stop();
    stop.store(true, Relaxed);
    let n_plus_1_rate = pages.load(Relaxed) as f64 / t.elapsed().as_secs_f64();
    server
        .join()
        .map_err(|_| anyhow::anyhow!("the page thread panicked"))??;
    let (wall_path, cpu_path) = (ctx.file("wall.pb.gz"), ctx.file("cpu.pb.gz"));
    analyze::write(&wall?, &wall_path)?;
    analyze::write(&cpu_profile?, &cpu_path)?;

    // The fixes, measured the same way on this thread.
    let join_rate = pages_per_second(Duration::from_secs_f64(secs / 2.0), |i| {
        Ok(render_page(&get_orders_with_items_join(&db, user(i))?).len())
    })?;
    let mut cache = Cached::new(16);
    let cached_rate = pages_per_second(Duration::from_secs_f64(secs / 2.0), |i| {
        Ok(render_page(&cache.get_orders_with_items(&db, user(i))?).len())
    })?;
    let hit_rate = cache.hits as f64 / (cache.hits + cache.misses).max(1) as f64;
    drop((db, cache));
    let _ = database.join();
    o.table.push(format!(
        "pages/s: N+1 {n_plus_1_rate:.0}, JOIN {join_rate:.0} ({:.1}x), JOIN + cache of 16 users {cached_rate:.0} ({:.1}x, {:.0}% hits)",
        join_rate / n_plus_1_rate,
        cached_rate / n_plus_1_rate,
        hit_rate * 100.0
    ));
    o.check(
        join_rate > 2.0 * n_plus_1_rate && cached_rate > join_rate,
        format!(
            "the JOIN serves {:.1}x the pages of N+1, the cache {:.1}x the JOIN's",
            join_rate / n_plus_1_rate,
            cached_rate / join_rate
        ),
    );

    // Wall clock: where the page thread's time goes, and who sent the queries.
    let page_thread = |c: &mut sonde_profile::report::Config| {
        c.tagfocus = "thread=orders-page".into();
        c.user_code = true;
        // Shares of the page thread's time, not of every thread's.
        c.relative_percentages = true;
    };
    let wall_top = analyze::top(&wall_path, page_thread)?;
    let wall_first = wall_top.rows.first();
    let callers = analyze::callers(&wall_path, "Db::query", page_thread)?;
    let site = callers.first();
    o.found = format!(
        "wall clock: {} of the page's time in Db::query, {} of it called from {}",
        analyze::find(&wall_top, "Db::query").map_or("none".into(), |r| pct(r.cum, wall_top.total)),
        site.map_or("?".into(), |(_, share)| format!("{:.0}%", share * 100.0)),
        site.map_or("?", |(name, _)| short(name))
    );
    o.check(
        wall_first.is_some_and(|r| r.name.contains("Db::query"))
            && site.is_some_and(|(n, s)| n.contains("get_order_items") && *s >= 0.8),
        format!(
            "the wall-clock profile: first row {}; sonde peek Db::query: its largest caller is {}",
            wall_first.map_or("nothing".into(), |r| short(&r.name).to_string()),
            site.map_or("nothing".into(), |(n, s)| format!(
                "{} with {:.0}%",
                short(n),
                s * 100.0
            ))
        ),
    );
    let database_cpu = analyze::top(&cpu_path, |c| {
        c.tagfocus = "thread=database".into();
        c.relative_percentages = true;
    })?
    .total;
    o.table.push(format!(
        "the database server's thread used {:.2} s of CPU (its own, as on another host)",
        database_cpu as f64 / 1e9
    ));
    // The CPU profile cannot see waiting: what it has of get_order_items is
    // the CPU of sending the queries and reading the answers (in release,
    // the round trips' system calls make that the page thread's largest CPU
    // user, of a thread that is on the CPU a few percent of the time).
    let cpu_top = analyze::top(&cpu_path, page_thread)?;
    let cum_ns = |top: &sonde_profile::report::Top| analyze::find(top, "get_order_items").map_or(0, |r| r.cum);
    let (items_cpu, items_wall) = (cum_ns(&cpu_top), cum_ns(&wall_top));
    o.check(
        items_wall > 0 && items_cpu * 4 < items_wall,
        format!(
            "the CPU profile cannot see it: get_order_items has {:.0} ms of CPU against {:.2} s of wall time \
             (< 25%); the page thread used {:.2} s of CPU in {:.2} s (within that CPU time the queries' system \
             calls lead, which is not where the page's time goes)",
            items_cpu as f64 / 1e6,
            items_wall as f64 / 1e9,
            cpu_top.total as f64 / 1e9,
            wall_top.total as f64 / 1e9
        ),
    );
    o.file(&wall_path);
    o.file(&cpu_path);
    o.file(&db_path);
    o.explore(format!(
        "sonde top --user-code --relative-percentages --tagfocus thread=orders-page {}",
        sh(&wall_path)
    ));
    o.explore(format!(
        "sonde peek 'Db::query' --user-code --relative-percentages --tagfocus thread=orders-page {}",
        sh(&wall_path)
    ));
    o.explore(format!(
        "sonde top --user-code --relative-percentages --tagfocus thread=orders-page {}",
        sh(&cpu_path)
    ));
    Ok(())
}
