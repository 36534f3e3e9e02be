//! The built-in commands, written as plugins are: one [`Command`] each
//! (or one per small family), listed in [`all`].

use super::Command;

mod antilink;
mod backup;
mod block;
mod broadcast;
mod greetings;
mod group_info;
mod info;
mod lang;
mod leave;
mod link;
mod members;
mod menu;
mod mute;
mod owner;
mod ping;
pub mod reactions;
mod restart;
mod session;
mod setprefix;
pub mod sticker;
mod tagall;

/// Every built-in, in menu order within each category; then a command
/// per reaction clip whose name no other command takes (`kick` is the
/// admins').
#[must_use]
pub fn all() -> Vec<Box<dyn Command>> {
    let mut all = named();
    let taken: Vec<&str> = all
        .iter()
        .flat_map(|command| {
            let spec = command.spec();
            std::iter::once(spec.name).chain(spec.aliases.iter().copied())
        })
        .collect();
    let reactions = reactions::all(&taken);
    all.extend(
        reactions
            .into_iter()
            .map(|command| Box::new(command) as Box<dyn Command>),
    );
    all
}

fn named() -> Vec<Box<dyn Command>> {
    vec![
        // Everyone.
        Box::new(menu::Menu),
        Box::new(menu::Help),
        Box::new(ping::Ping),
        Box::new(info::Alive),
        Box::new(owner::OwnerContact),
        Box::new(info::Uptime),
        Box::new(info::Stats),
        Box::new(sticker::Sticker),
        // Group admins.
        Box::new(members::Members::KICK),
        Box::new(members::Members::ADD),
        Box::new(members::Members::PROMOTE),
        Box::new(members::Members::DEMOTE),
        Box::new(tagall::TagAll),
        Box::new(link::Link::GET),
        Box::new(link::Link::REVOKE),
        Box::new(mute::Mute::ON),
        Box::new(mute::Mute::OFF),
        Box::new(group_info::GroupText::SUBJECT),
        Box::new(group_info::GroupText::DESCRIPTION),
        Box::new(group_info::Lock::ON),
        Box::new(group_info::Lock::OFF),
        Box::new(greetings::Greetings::WELCOME),
        Box::new(greetings::Greetings::GOODBYE),
        Box::new(antilink::Antilink),
        Box::new(lang::Lang),
        // The owner.
        Box::new(restart::Restart),
        Box::new(backup::Backup),
        Box::new(session::Session),
        Box::new(broadcast::Broadcast),
        Box::new(block::Block::BLOCK),
        Box::new(block::Block::UNBLOCK),
        Box::new(setprefix::SetPrefix),
        Box::new(leave::Leave),
    ]
}
