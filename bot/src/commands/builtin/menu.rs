//! `menu` (all commands, by category) and `help [command]` (one).

use crate::Context;
use crate::commands::{
    ArgKind, ArgSpec, Call, Category, Command, Cooldown, Permission, Role, Spec,
};

pub struct Menu;
pub struct Help;

const MENU: Spec = Spec {
    aliases: &["commands", "list"],
    cooldown: Cooldown::PerChatPerMinute(2),
    ..Spec::new("menu", Category::General, "menu.help", "menu.usage")
};
const HELP: Spec = Spec {
    aliases: &["h"],
    args: &[ArgSpec::optional("command", ArgKind::Word)],
    cooldown: Cooldown::PerChatPerMinute(4),
    ..Spec::new("help", Category::General, "help.help", "help.usage")
};

impl Command for Menu {
    fn spec(&self) -> &Spec {
        &MENU
    }

    fn run(&self, call: &Call<'_>, ctx: &mut Context) {
        ctx.reply(menu(call));
    }
}

impl Command for Help {
    fn spec(&self) -> &Spec {
        &HELP
    }

    fn run(&self, call: &Call<'_>, ctx: &mut Context) {
        let Some(name) = call.args.word("command") else {
            return ctx.reply(menu(call));
        };
        let name = name.trim_start_matches(|c| call.prefixes().as_str().contains(c));
        let Some(command) = call.find_command(name) else {
            let shown = call.command_ref(&name.to_lowercase());
            return call.answer(ctx, "help.unknown", &[("command", &shown)]);
        };
        let spec = command.spec();
        // A usage shared by a family (the reactions) names the command.
        let usage = call.render(spec.usage, &[("command", spec.name)]);
        let mut lines = vec![usage, call.text(spec.help)];
        if !spec.aliases.is_empty() {
            let aliases = spec
                .aliases
                .iter()
                .map(|alias| call.command_ref(alias))
                .collect::<Vec<_>>()
                .join(", ");
            lines.push(call.render("help.aliases", &[("aliases", &aliases)]));
        }
        lines.push(call.text(match spec.permission {
            Permission::Everyone => "help.who.everyone",
            Permission::GroupAdmin => "help.who.admin",
            Permission::Owner => "help.who.owner",
        }));
        ctx.reply(crate::Reply::text(lines.join("\n")).quoting());
    }
}

/// Every command the caller may see, by category: owner commands only
/// for the owner.
fn menu(call: &Call<'_>) -> String {
    let mut sections: Vec<(Category, Vec<&Spec>)> = Vec::new();
    for command in call.commands() {
        let spec = command.spec();
        if spec.permission == Permission::Owner && call.role != Role::Owner {
            continue;
        }
        match sections
            .iter_mut()
            .find(|(category, _)| *category == spec.category)
        {
            Some((_, specs)) => specs.push(spec),
            None => sections.push((spec.category, vec![spec])),
        }
    }
    // Stable: custom sections keep their registration order.
    sections.sort_by_key(|(category, _)| category.rank());
    let prefixes = call.prefixes().to_string();
    let mut out = call.render("menu.title", &[("prefixes", &prefixes)]);
    for (category, specs) in sections {
        out.push_str("\n\n*");
        out.push_str(&call.text(category.title_key()));
        out.push('*');
        // Commands that share a help text (the reactions) share a line.
        let mut lines: Vec<(&str, Vec<String>)> = Vec::new();
        for spec in specs {
            let name = call.command_ref(spec.name);
            match lines.iter_mut().find(|(help, _)| *help == spec.help) {
                Some((_, names)) => names.push(name),
                None => lines.push((spec.help, vec![name])),
            }
        }
        for (help, names) in lines {
            out.push('\n');
            out.push_str(&names.join(" "));
            out.push_str(" — ");
            out.push_str(&call.text(help));
        }
    }
    let help = call.text("help.usage");
    out.push_str("\n\n");
    out.push_str(&call.render("menu.footer", &[("help", &help)]));
    out
}
