//! Case Study 3: an order page that runs one query for the user's orders and
//! then one per order for its items (N+1), against a real SQLite database
//! (bundled, in the case's directory) reached over a simulated network: each
//! query waits a round trip of 0.3 ms, as a database on another host does.
//! The wall-clock profile sees the waits and names the per-order query's call
//! site; the CPU profile, which cannot see waiting, puts the page's rendering
//! first. The single JOIN, and then a small cache in front of it, are the
//! seed's two fixes, measured in pages per second.

use std::collections::{HashMap, VecDeque};
use std::fmt::Write as _;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use rusqlite::{Connection, params};
use sonde::cpu::{self, CpuOptions};

use crate::demo::analyze::{self, pct, short};
use crate::demo::{Ctx, Outcome};

/// The network's round trip to the database server.
const ROUND_TRIP: Duration = Duration::from_micros(300);
const USERS: i64 = 50;
const ORDERS_PER_USER: i64 = 20;
const ITEMS_PER_ORDER: i64 = 3;

/// The database connection: SQLite behind a simulated network.
pub struct Db {
    conn: Connection,
}

/// An order with its items (product, quantity, price in cents, description).
pub struct Order {
    pub id: i64,
    pub items: Vec<(String, i64, i64, String)>,
}

impl Db {
    fn open(path: &Path) -> Result<Db> {
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
        Ok(Db { conn })
    }

    /// One query: a round trip on the wire, then SQLite's work.
    #[inline(never)]
    pub fn query<T>(
        &self,
        sql: &str,
        p: impl rusqlite::Params,
        row: impl FnMut(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
    ) -> Result<Vec<T>> {
        std::thread::sleep(ROUND_TRIP);
        let mut stmt = self.conn.prepare_cached(sql)?;
        let rows = stmt.query_map(p, row)?.collect::<rusqlite::Result<Vec<T>>>()?;
        Ok(rows)
    }
}

/// The user's orders, without items.
#[inline(never)]
pub fn get_orders(db: &Db, user: i64) -> Result<Vec<Order>> {
    let orders = db.query("SELECT id FROM orders WHERE user_id = ?1 ORDER BY id", [user], |r| {
        Ok(Order {
            id: r.get(0)?,
            items: Vec::new(),
        })
    })?;
    // Not a tail call: the frame stays on the stack for the profiles to name.
    Ok(std::hint::black_box(orders))
}

/// One order's items: the query run once per order.
#[inline(never)]
pub fn get_order_items(db: &Db, order: i64) -> Result<Vec<(String, i64, i64, String)>> {
    let items = db.query(
        "SELECT product, qty, price, description FROM order_items WHERE order_id = ?1 ORDER BY id",
        [order],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
    )?;
    Ok(std::hint::black_box(items))
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
    let rows = db.query(
        "SELECT o.id, i.product, i.qty, i.price, i.description FROM orders o
         JOIN order_items i ON o.id = i.order_id WHERE o.user_id = ?1 ORDER BY o.id, i.id",
        [user],
        |r| Ok((r.get::<_, i64>(0)?, (r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))),
    )?;
    let mut orders: Vec<Order> = Vec::new();
    for (id, item) in rows {
        match orders.last_mut() {
            Some(o) if o.id == id => o.items.push(item),
            _ => orders.push(Order { id, items: vec![item] }),
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

pub fn run(ctx: &Ctx) -> Result<Outcome> {
    let secs = ctx.pick(1.0, 2.0);
    let mut o = Outcome {
        planted: format!(
            "the order page runs 1 + {ORDERS_PER_USER} queries (one per order) against SQLite, each behind a {} ms round trip",
            ROUND_TRIP.as_secs_f64() * 1e3
        ),
        ..Outcome::default()
    };
    let db_path = ctx.file("orders.db");

    // The page served on a thread of its own while the main thread profiles it.
    let stop = Arc::new(AtomicBool::new(false));
    let pages = Arc::new(AtomicU64::new(0));
    let server = {
        let (stop, pages, db_path) = (stop.clone(), pages.clone(), db_path.clone());
        let db = Db::open(&db_path)?;
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
    let wall = sonde::threads::wall_profile(Duration::from_secs_f64(secs), 1000);
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
    let db = Db::open(&db_path)?;
    let join_rate = pages_per_second(Duration::from_secs_f64(secs / 2.0), |i| {
        Ok(render_page(&get_orders_with_items_join(&db, user(i))?).len())
    })?;
    let mut cache = Cached::new(16);
    let cached_rate = pages_per_second(Duration::from_secs_f64(secs / 2.0), |i| {
        Ok(render_page(&cache.get_orders_with_items(&db, user(i))?).len())
    })?;
    let hit_rate = cache.hits as f64 / (cache.hits + cache.misses).max(1) as f64;
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
    let cpu_top = analyze::top(&cpu_path, page_thread)?;
    let cpu_first = cpu_top.rows.first();
    let items_cpu = analyze::share(&cpu_top, "get_order_items", true);
    let items_wall = analyze::share(&wall_top, "get_order_items", true);
    o.check(
        cpu_first.is_some_and(|r| !r.name.contains("Db::query") && !r.name.contains("get_order_items"))
            && items_cpu < items_wall / 2.0,
        format!(
            "the CPU profile does not: first row {}, get_order_items {:.0}% of CPU but {:.0}% of wall time",
            cpu_first.map_or("nothing".into(), |r| short(&r.name).to_string()),
            items_cpu * 100.0,
            items_wall * 100.0
        ),
    );
    o.file(&wall_path);
    o.file(&cpu_path);
    o.file(&db_path);
    o.explore(format!(
        "sonde top --user-code --tagfocus thread=orders-page {}",
        wall_path.display()
    ));
    o.explore(format!(
        "sonde peek 'Db::query' --user-code --tagfocus thread=orders-page {}",
        wall_path.display()
    ));
    o.explore(format!(
        "sonde top --user-code --tagfocus thread=orders-page {}",
        cpu_path.display()
    ));
    Ok(o)
}
