//! The script parser: good scripts and the errors of bad ones, with their line numbers.

use std::time::Duration;

use phone_sim::phone::{Action, ForwardKind};
use phone_sim::script::{DEFAULT_TIMEOUT, Line, PhoneDecl, Step, WaitState, parse, parse_duration};

fn line(number: usize, phone: Option<&str>, step: Step) -> Line {
    Line {
        number,
        phone: phone.map(str::to_owned),
        step,
    }
}

#[test]
fn test_parse_full_script() {
    let text = "\
# two phones
phone b 202 secret-b

register
wait registered 2s
b: wait csta
call 202          # through the proxy
b: wait ringing 500ms
b: answer
wait connected
hold
retrieve
transfer 203
deflect 204
dnd on
dnd off
forward immediate 205
forward busy off
forward noanswer 206
auto-answer on
expect EstablishedEvent 3s
b: expect call
sleep 250ms
hangup
unregister
transfer
conference
offhook
wait dialing
dial 202
digits 12#
quit
";
    let s = parse(text).unwrap();
    assert_eq!(
        s.phones,
        vec![PhoneDecl {
            name: "b".into(),
            user: "202".into(),
            password: Some("secret-b".into())
        }]
    );
    let ms = Duration::from_millis;
    assert_eq!(
        s.lines,
        vec![
            line(4, None, Step::Act(Action::Register)),
            line(5, None, Step::Wait(WaitState::Registered, ms(2000))),
            line(6, Some("b"), Step::Wait(WaitState::Csta, DEFAULT_TIMEOUT)),
            line(7, None, Step::Act(Action::Call("202".into()))),
            line(8, Some("b"), Step::Wait(WaitState::Ringing, ms(500))),
            line(9, Some("b"), Step::Act(Action::Answer)),
            line(10, None, Step::Wait(WaitState::Connected, DEFAULT_TIMEOUT)),
            line(11, None, Step::Act(Action::Hold)),
            line(12, None, Step::Act(Action::Retrieve)),
            line(13, None, Step::Act(Action::Transfer("203".into()))),
            line(14, None, Step::Act(Action::Deflect("204".into()))),
            line(15, None, Step::Act(Action::DoNotDisturb(true))),
            line(16, None, Step::Act(Action::DoNotDisturb(false))),
            line(
                17,
                None,
                Step::Act(Action::Forward(ForwardKind::Immediate, Some("205".into())))
            ),
            line(
                18,
                None,
                Step::Act(Action::Forward(ForwardKind::Busy, None))
            ),
            line(
                19,
                None,
                Step::Act(Action::Forward(ForwardKind::NoAnswer, Some("206".into())))
            ),
            line(20, None, Step::Act(Action::AutoAnswer(true))),
            line(21, None, Step::Expect("EstablishedEvent".into(), ms(3000))),
            line(22, Some("b"), Step::Expect("call".into(), DEFAULT_TIMEOUT)),
            line(23, None, Step::Sleep(ms(250))),
            line(24, None, Step::Act(Action::Hangup)),
            line(25, None, Step::Act(Action::Unregister)),
            line(26, None, Step::Act(Action::CompleteTransfer)),
            line(27, None, Step::Act(Action::Conference)),
            line(28, None, Step::Act(Action::OffHook)),
            line(29, None, Step::Wait(WaitState::Dialing, DEFAULT_TIMEOUT)),
            line(30, None, Step::Act(Action::Dial("202".into()))),
            line(31, None, Step::Act(Action::Digits("12#".into()))),
            line(32, None, Step::Quit),
        ]
    );
}

#[test]
fn test_parse_empty_script() {
    let s = parse("\n  # nothing\n\n").unwrap();
    assert!(s.phones.is_empty());
    assert!(s.lines.is_empty());
}

#[test]
fn test_parse_duration() {
    assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
    assert_eq!(parse_duration("2s"), Ok(Duration::from_secs(2)));
    assert_eq!(parse_duration("0ms"), Ok(Duration::ZERO));
    for bad in ["5", "ms", "s", "1.5s", "-1s", "10m", "abc"] {
        assert_eq!(
            parse_duration(bad),
            Err(format!("`{bad}` is not a duration (use 500ms or 2s)")),
            "{bad}"
        );
    }
}

/// Each bad script fails at the line named, with the message given.
#[test]
fn test_parse_errors() {
    let cases: &[(&str, usize, &str)] = &[
        ("register\nfly away\n", 2, "unknown command `fly`"),
        ("call\n", 1, "`call` needs a number"),
        (
            "call 202 203\n",
            1,
            "`call` takes at most 1 argument(s), got 2",
        ),
        (
            "register now\n",
            1,
            "`register` takes at most 0 argument(s), got 1",
        ),
        ("dnd maybe\n", 1, "`dnd` takes on or off, not `maybe`"),
        ("\n\ndnd\n", 3, "`dnd` takes on or off"),
        (
            "auto-answer yes\n",
            1,
            "`auto-answer` takes on or off, not `yes`",
        ),
        (
            "forward sometimes 203\n",
            1,
            "`forward` takes immediate, busy or noanswer, not `sometimes`",
        ),
        (
            "forward\n",
            1,
            "`forward` takes immediate, busy or noanswer",
        ),
        ("forward busy\n", 1, "`forward` needs a number or off"),
        ("wait\n", 1, "`wait` needs a state"),
        (
            "wait sleeping\n",
            1,
            "unknown state `sleeping` (registered, unregistered, csta, idle, calling, \
             ringback, ringing, connected, held)",
        ),
        (
            "wait connected soon\n",
            1,
            "`soon` is not a duration (use 500ms or 2s)",
        ),
        ("expect\n", 1, "`expect` needs an event name"),
        ("sleep\n", 1, "`sleep` needs a duration"),
        ("sleep 10\n", 1, "`10` is not a duration (use 500ms or 2s)"),
        ("x: call 202\n", 1, "phone `x` is not declared"),
        (": call 202\n", 1, "empty phone name before `:`"),
        ("phone b\n", 1, "`phone` needs a name and a user"),
        (
            "phone b 202 pw extra\n",
            1,
            "`phone` takes a name, a user and a password at most",
        ),
        (
            "phone b 202\nphone b 203\n",
            2,
            "phone `b` is declared twice",
        ),
        (
            "phone b 202\nb: phone c 203\n",
            2,
            "a `phone` line takes no `NAME:` prefix",
        ),
        ("phone b 202\nb:\n", 2, "empty command"),
    ];
    for (text, line, message) in cases {
        let e = parse(text).unwrap_err();
        assert_eq!((e.line, e.message.as_str()), (*line, *message), "{text:?}");
        assert_eq!(e.to_string(), format!("line {line}: {message}"));
    }
}
