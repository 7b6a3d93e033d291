//! `starling admin seed`: builds the benchmark network with a progress bar per stage and
//! writes the seeded accounts' tokens as JSON for the load generator.

use crate::cli::SeedArgs;
use crate::commands::CommandError;
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::json;
use starling_service::Starling;
use starling_service::seed::{SeedPlan, SeedProgress};
use std::cell::RefCell;
use std::io::Write;
use std::time::Instant;

/// One progress bar per stage, on stderr (hidden when stderr is not a terminal).
struct Bars {
    current: RefCell<Option<(ProgressBar, Instant)>>,
}

impl Bars {
    fn finish(&self) {
        if let Some((bar, started)) = self.current.borrow_mut().take() {
            bar.finish();
            if bar.is_hidden() {
                eprintln!(
                    "{}: {} in {:.1?}",
                    bar.message(),
                    bar.position(),
                    started.elapsed()
                );
            }
        }
    }
}

impl SeedProgress for Bars {
    fn stage(&self, name: &str, total: u64) {
        self.finish();
        let bar = ProgressBar::new(total);
        if let Ok(style) = ProgressStyle::with_template(
            "{msg:>22} [{elapsed_precise}] {wide_bar} {human_pos}/{human_len} ({per_sec}, eta {eta})",
        ) {
            bar.set_style(style);
        }
        bar.set_message(name.to_owned());
        *self.current.borrow_mut() = Some((bar, Instant::now()));
    }

    fn advance(&self, n: u64) {
        if let Some((bar, _)) = self.current.borrow().as_ref() {
            bar.inc(n);
        }
    }
}

/// Seeds the database and writes the tokens file.
pub async fn run(
    app: &Starling,
    args: &SeedArgs,
    out: &mut impl Write,
) -> Result<(), CommandError> {
    let plan = SeedPlan {
        accounts: args.accounts,
        active: args.active,
        follows_min: args.follows_min,
        follows_max: args.follows_max,
        posts_per_active: args.posts_per_active,
        celebrity_posts: args.celebrity_posts,
        filler_posts: args.filler_posts,
        group_members: args.group_members,
        group_posts: args.group_posts,
        rng_seed: args.rng_seed,
    };
    let started = Instant::now();
    let bars = Bars {
        current: RefCell::new(None),
    };
    let outcome = app.seed(&plan, &bars).await?;
    bars.finish();
    let user = |u: &starling_service::seed::SeededUser| json!({ "id": u.id.to_string(), "username": u.username, "token": u.token });
    let doc = json!({
        "base_password": outcome.password,
        "celebrity": user(&outcome.celebrity),
        "group_id": outcome.group_id.map(|g| g.to_string()),
        "users": outcome.users.iter().map(user).collect::<Vec<_>>(),
    });
    std::fs::write(
        &args.tokens_out,
        serde_json::to_vec_pretty(&doc).map_err(std::io::Error::other)?,
    )?;
    let (accounts, follows, posts, feed) = outcome.counts;
    writeln!(
        out,
        "seeded {accounts} accounts, {follows} follows, {posts} posts, {feed} home-feed rows, a group of {} members in {:.1?}; tokens of {} active accounts and the celebrity in {}",
        outcome.group_members,
        started.elapsed(),
        outcome.users.len(),
        args.tokens_out.display()
    )?;
    Ok(())
}
