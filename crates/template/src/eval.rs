//! Evaluation of one HCL expression in a template: checks every reference (`var.*`, `local.*`,
//! `path.*`, `packer.*`, `source.*`, `build.*`) and function name against what is in scope and
//! reports each problem at its own position, handles `env()`, `try()` and `can()` on the syntax
//! tree (the hcl-rs evaluator only sees argument values, never failures), and leaves expressions
//! that need build-time values (`build.*`) as source text with every known part substituted.

use std::collections::BTreeMap;
use std::ops::Range;

use hcl::Value;
use hcl::edit::expr::{
    BinaryOp, BinaryOperator, Expression as Expr, ForExpr, FuncArgs as EFuncArgs, FuncCall, Object, ObjectKey, ObjectValue,
    Traversal, TraversalOperator, UnaryOp, UnaryOperator,
};
use hcl::edit::template::{Element, ForTemplateExpr};
use hcl::edit::visit::{self, Visit};
use hcl::edit::visit_mut::{self, VisitMut};
use hcl::edit::{Decorate as _, Decorated, Ident, Span as _};
use hcl::eval::{Context, Evaluate as _};

use crate::body::AttrValue;
use crate::diag::{Diagnostic, Diagnostics, FileId, Span, did_you_mean};

/// The Packer language level we implement; `packer.version` evaluates to it and `init` checks
/// `required_version` against it. We follow the HCL2 language of Packer 1.7.2.
pub const PACKER_VERSION: &str = "1.7.2";

/// Which names an expression may refer to, and how.
#[derive(Clone, Debug)]
pub struct Scope<'a> {
    pub file: FileId,
    /// `var.*`; `None` where variables may not be used (variable defaults, var files).
    pub vars: Option<&'a hcl::Map<String, Value>>,
    /// `local.*`; `None` where locals may not be used.
    pub locals: Option<&'a hcl::Map<String, Value>>,
    /// `path.root` and `path.cwd`.
    pub path: Option<&'a hcl::Map<String, Value>>,
    /// `source.name` and `source.type` when the enclosing build has a single source.
    pub source: Option<&'a hcl::Map<String, Value>>,
    /// Roots left for build time (`build`, and `source` in a build of several sources).
    pub defer: &'a [&'a str],
    /// The environment for `env()`; `Some` only in variable defaults, as in Packer.
    pub env: Option<&'a BTreeMap<String, String>>,
    /// Where the expression is, for messages: "in a variable default".
    pub place: &'a str,
    /// More roots, such as the iterator of a `dynamic` block (`tag.key`, `tag.value`).
    pub extra: Option<&'a hcl::Map<String, Value>>,
}

impl<'a> Scope<'a> {
    /// A scope with nothing in it but functions (var files, literal checks).
    pub fn empty(file: FileId, place: &'a str) -> Self {
        Scope { file, vars: None, locals: None, path: None, source: None, defer: &[], env: None, place, extra: None }
    }

    fn context(&self) -> Context<'static> {
        let mut ctx = Context::new();
        declare_functions(&mut ctx);
        coercion::declare(&mut ctx);
        if let Some(v) = self.vars {
            ctx.declare_var("var", Value::Object(v.clone()));
        }
        if let Some(l) = self.locals {
            ctx.declare_var("local", Value::Object(l.clone()));
        }
        if let Some(p) = self.path {
            ctx.declare_var("path", Value::Object(p.clone()));
        }
        if let Some(s) = self.source {
            ctx.declare_var("source", Value::Object(s.clone()));
        }
        let mut packer = hcl::Map::new();
        packer.insert("version".to_string(), Value::String(PACKER_VERSION.to_string()));
        ctx.declare_var("packer", Value::Object(packer));
        for (name, value) in self.extra.into_iter().flatten() {
            ctx.declare_var(name.clone(), value.clone());
        }
        ctx
    }

    fn is_extra(&self, name: &str) -> bool {
        self.extra.is_some_and(|e| e.contains_key(name))
    }

    fn known_roots(&self) -> Vec<&'a str> {
        let mut roots = vec!["packer"];
        if self.vars.is_some() {
            roots.push("var");
        }
        if self.locals.is_some() {
            roots.push("local");
        }
        if self.path.is_some() {
            roots.push("path");
        }
        if self.source.is_some() {
            roots.push("source");
        }
        roots.extend(self.extra.into_iter().flat_map(|e| e.keys().map(String::as_str)));
        roots
    }

    fn span(&self, range: Option<Range<usize>>) -> Option<Span> {
        range.map(|r| Span { file: self.file, start: r.start, end: r.end })
    }
}

// ---- functions: the shared table of `crate::functions`

/// Names a template may call, besides `env`, `try` and `can` which are handled here.
fn function_names() -> Vec<&'static str> {
    crate::functions::all().iter().map(|f| f.name).collect()
}

fn declare_functions(ctx: &mut Context) {
    crate::functions::declare_all(ctx)
}

/// How many arguments a function takes: `(min, max)`, `None` for no limit.
fn function_arity(name: &str) -> Option<(usize, Option<usize>)> {
    crate::functions::lookup(name).map(|f| (f.min_args, f.max_args))
}

// ---- the result

/// An evaluated expression.
#[derive(Clone, Debug, PartialEq)]
pub struct Evaluated {
    pub value: AttrValue,
    /// No reference and no function call.
    pub literal: bool,
}

/// Evaluates one expression; every problem goes to `diags` with its position and `None` is returned.
pub fn eval(expr: &Expr, scope: &Scope, diags: &mut Diagnostics) -> Option<Evaluated> {
    let mut checker = Checker::new(scope);
    checker.visit_expr(expr);
    let Checker { errors, has_ref, has_call, deferred, .. } = checker;
    let literal = !has_ref && !has_call;
    if !errors.is_empty() {
        for e in errors {
            diags.push(e);
        }
        return None;
    }
    let ctx = scope.context();
    let whole = scope.span(expr.span());
    if deferred {
        let mut copy = expr.clone();
        let mut sub = Substituter { ctx: &ctx, scope, error: None };
        sub.visit_expr_mut(&mut copy);
        if let Some(e) = sub.error {
            diags.push(located(Diagnostic::error(format!("cannot evaluate the expression: {e}")), whole));
            return None;
        }
        copy.decor_mut().clear();
        return Some(Evaluated { value: AttrValue::Deferred(copy.to_string().trim().to_string()), literal });
    }
    match eval_known(expr, &ctx, scope.env) {
        Ok(v) => Some(Evaluated { value: AttrValue::Known(v), literal }),
        Err(e) => {
            diags.push(located(Diagnostic::error(format!("cannot evaluate the expression: {e}")), whole));
            None
        }
    }
}

/// Evaluates an expression to a value; `build.*` is an error here (used for variables, locals).
pub fn eval_value(expr: &Expr, scope: &Scope, diags: &mut Diagnostics) -> Option<Value> {
    match eval(expr, scope, diags)? {
        Evaluated { value: AttrValue::Known(v), .. } => Some(v),
        Evaluated { value: AttrValue::Deferred(_), .. } => {
            diags.push(located(
                Diagnostic::error(format!("build-time values cannot be used {}", scope.place)),
                scope.span(expr.span()),
            ));
            None
        }
    }
}

/// Evaluates the source of an [`AttrValue::Deferred`] at build time, once `build` (and `source`,
/// for a build of several sources) are known: `roots` maps each such name to its object, e.g.
/// `build` → `{ID = "...", Host = "..."}`. Functions, operator conversions and checked arithmetic
/// work as at load time.
pub fn eval_deferred(src: &str, roots: &hcl::Map<String, Value>) -> Result<Value, String> {
    let expr = hcl::edit::parser::parse_expr(src.trim()).map_err(|e| format!("invalid deferred expression: {}", e.message()))?;
    let scope = Scope { extra: Some(roots), ..Scope::empty(FileId(usize::MAX), "at build time") };
    let ctx = scope.context();
    eval_known(&expr, &ctx, None)
}

fn located(d: Diagnostic, span: Option<Span>) -> Diagnostic {
    match span {
        Some(s) => d.at(s),
        None => d,
    }
}

/// The names `root.NAME` that an expression refers to (e.g. the locals a local depends on).
pub fn references(expr: &Expr, root: &str) -> Vec<String> {
    struct Refs<'r> {
        root: &'r str,
        found: Vec<String>,
    }
    impl Visit for Refs<'_> {
        fn visit_traversal(&mut self, t: &Traversal) {
            if let Expr::Variable(v) = &t.expr {
                if v.as_str() == self.root {
                    if let Some(TraversalOperator::GetAttr(a)) = t.operators.first().map(|o| o.value()) {
                        self.found.push(a.as_str().to_string());
                    }
                }
            }
            visit::visit_traversal(self, t);
        }
    }
    let mut r = Refs { root, found: Vec::new() };
    r.visit_expr(expr);
    r.found
}

// ---- checking references and calls with positions

struct Checker<'s, 'a> {
    scope: &'s Scope<'a>,
    errors: Vec<Diagnostic>,
    bound: Vec<String>,
    has_ref: bool,
    has_call: bool,
    deferred: bool,
    functions: Vec<&'static str>,
    /// Inside the arguments of try()/can(): an undefined reference is a failure those catch, as
    /// in Packer, not an error.
    in_try: usize,
}

impl<'s, 'a> Checker<'s, 'a> {
    fn new(scope: &'s Scope<'a>) -> Self {
        Checker {
            scope,
            errors: Vec::new(),
            bound: Vec::new(),
            has_ref: false,
            has_call: false,
            deferred: false,
            functions: function_names(),
            in_try: 0,
        }
    }

    fn error(&mut self, d: Diagnostic, range: Option<Range<usize>>) {
        self.errors.push(located(d, self.scope.span(range)));
    }

    fn root(&mut self, ident: &Decorated<Ident>, first: Option<&Decorated<TraversalOperator>>) {
        let name = ident.as_str();
        if self.bound.iter().any(|b| b == name) || self.scope.is_extra(name) {
            return;
        }
        self.has_ref = true;
        let attr = match first.map(|o| o.value()) {
            Some(TraversalOperator::GetAttr(a)) => Some(a),
            _ => None,
        };
        let scope = self.scope;
        match name {
            "var" => self.member("variable", "var", scope.vars.map(|m| m.keys().cloned().collect()), ident, attr),
            "local" => self.member("local value", "local", scope.locals.map(|m| m.keys().cloned().collect()), ident, attr),
            "path" => self.member("path", "path", scope.path.map(|m| m.keys().cloned().collect()), ident, attr),
            "packer" => self.member("attribute", "packer", Some(vec!["version".into()]), ident, attr),
            "source" if scope.source.is_some() => {
                self.member("attribute", "source", Some(vec!["name".into(), "type".into()]), ident, attr)
            }
            n if scope.defer.contains(&n) => self.deferred = true,
            "build" => self.error(
                Diagnostic::error(format!("build.* is only known during a build and cannot be used {}", scope.place))
                    .help("use build.* in provisioners and post-processors of a build block"),
                ident.span(),
            ),
            "source" => self.error(
                Diagnostic::error(format!("source.* cannot be used {}", scope.place))
                    .help("source.name and source.type are available inside a build block"),
                ident.span(),
            ),
            _ if self.in_try > 0 => {}
            other => {
                let mut roots = scope.known_roots();
                roots.extend(scope.defer.iter().copied());
                let mut d = Diagnostic::error(format!("unknown variable \"{other}\" {}", scope.place))
                    .detail("references start with var., local., path., packer., source. or build.");
                if let Some(s) = did_you_mean(other, roots.iter().copied()) {
                    d = d.help(format!("did you mean \"{s}\"?"));
                }
                self.error(d, ident.span());
            }
        }
    }

    fn member(
        &mut self,
        kind: &str,
        prefix: &str,
        names: Option<Vec<String>>,
        ident: &Decorated<Ident>,
        attr: Option<&Decorated<Ident>>,
    ) {
        let Some(names) = names else {
            let help = match prefix {
                "var" | "local" => format!("only constant values are allowed {}; compute the value in a locals block instead", self.scope.place),
                _ => "this value is not available here".to_string(),
            };
            self.error(Diagnostic::error(format!("{prefix}.* cannot be used {}", self.scope.place)).help(help), ident.span());
            return;
        };
        let Some(attr) = attr else { return };
        let a = attr.as_str();
        if names.iter().any(|n| n == a) || self.in_try > 0 {
            return;
        }
        let range = match (ident.span(), attr.span()) {
            (Some(s), Some(e)) => Some(s.start..e.end),
            (s, _) => s,
        };
        let mut d = Diagnostic::error(format!("undefined {kind} \"{prefix}.{a}\""));
        d = match did_you_mean(a, names.iter().map(String::as_str)) {
            Some(s) => d.help(format!("did you mean \"{prefix}.{s}\"?")),
            None if prefix == "var" => d.help(format!("declare it with a variable \"{a}\" block")),
            None if prefix == "local" => d.help(format!("define it in a locals block: {a} = ...")),
            None => d,
        };
        self.error(d, range);
    }
}

impl BindsNames for Checker<'_, '_> {
    fn bound(&mut self) -> &mut Vec<String> {
        &mut self.bound
    }
}

impl Visit for Checker<'_, '_> {
    fn visit_expr(&mut self, e: &Expr) {
        match e {
            Expr::Variable(v) => self.root(v, None),
            _ => visit::visit_expr(self, e),
        }
    }

    fn visit_traversal(&mut self, t: &Traversal) {
        match &t.expr {
            Expr::Variable(v) => self.root(v, t.operators.first()),
            other => self.visit_expr(other),
        }
        for op in &t.operators {
            self.visit_traversal_operator(op);
        }
    }

    fn visit_func_call(&mut self, call: &FuncCall) {
        self.has_call = true;
        let name = call.name.name.as_str();
        let range = call.name.name.span();
        let nargs = call.args.iter().count();
        if !call.name.namespace.is_empty() {
            self.error(Diagnostic::error(format!("namespaced functions are not supported: {name}")), range.clone());
        }
        match name {
            "env" if self.scope.env.is_none() => self.error(
                Diagnostic::error("env() is only allowed in variable defaults")
                    .help("declare a variable with default = env(\"NAME\") and use var.<name> here"),
                range,
            ),
            "env" | "can" if nargs != 1 => self.error(Diagnostic::error(format!("{name}() takes exactly one argument, got {nargs}")), range),
            "try" if nargs == 0 => self.error(Diagnostic::error("try() needs at least one argument"), range),
            "env" | "try" | "can" => {}
            n if self.functions.contains(&n) => {
                if let Some((min, max)) = function_arity(n) {
                    if nargs < min || max.is_some_and(|m| nargs > m) {
                        let want = match max {
                            Some(m) if m == min => format!("{min}"),
                            Some(m) => format!("{min} to {m}"),
                            None => format!("at least {min}"),
                        };
                        let plural = if want == "1" { "" } else { "s" };
                        self.error(
                            Diagnostic::error(format!("{n}() takes {want} argument{plural}, got {nargs}")),
                            range.clone(),
                        );
                    }
                }
            }
            n => {
                let mut all = self.functions.clone();
                all.extend(["env", "try", "can"]);
                let mut d = Diagnostic::error(format!("undefined function \"{n}\""));
                if let Some(s) = did_you_mean(n, all.iter().copied()) {
                    d = d.help(format!("did you mean \"{s}\"?"));
                }
                self.error(d, range);
            }
        }
        let catches = matches!(name, "try" | "can");
        self.in_try += usize::from(catches);
        visit::visit_func_args(self, &call.args);
        self.in_try -= usize::from(catches);
    }

    fn visit_for_expr(&mut self, f: &ForExpr) {
        visit_for_expr_binding(self, f);
    }

    fn visit_for_template_expr(&mut self, f: &ForTemplateExpr) {
        visit_for_template_expr_binding(self, f);
    }
}

/// A visitor that keeps the names bound by enclosing `for` expressions, so that it does not take
/// them for references to variables.
trait BindsNames: Visit {
    fn bound(&mut self) -> &mut Vec<String>;
}

/// Visits a `for` expression with its key and value names bound while its body is visited.
fn visit_for_expr_binding<V: BindsNames>(v: &mut V, f: &ForExpr) {
    v.visit_expr(&f.intro.collection_expr);
    let depth = v.bound().len();
    if let Some(k) = &f.intro.key_var {
        v.bound().push(k.as_str().to_string());
    }
    v.bound().push(f.intro.value_var.as_str().to_string());
    if let Some(k) = &f.key_expr {
        v.visit_expr(k);
    }
    v.visit_expr(&f.value_expr);
    if let Some(c) = &f.cond {
        v.visit_expr(&c.expr);
    }
    v.bound().truncate(depth);
}

/// Visits a template `%{ for }` directive with its key and value names bound inside.
fn visit_for_template_expr_binding<V: BindsNames>(v: &mut V, f: &ForTemplateExpr) {
    v.visit_expr(&f.collection_expr);
    let depth = v.bound().len();
    if let Some(k) = &f.key_var {
        v.bound().push(k.as_str().to_string());
    }
    v.bound().push(f.value_var.as_str().to_string());
    v.visit_template(&f.template);
    v.bound().truncate(depth);
}

// ---- evaluating a fully known expression

fn value_expr(v: Value) -> Expr {
    Expr::from(hcl::Expression::from(v))
}

/// Finds calls of the functions that need the evaluator's own handling (`try`, `can`, `env`).
struct SpecialCallFinder(bool);

impl Visit for SpecialCallFinder {
    fn visit_func_call(&mut self, c: &FuncCall) {
        if matches!(c.name.name.as_str(), "try" | "can" | "env") {
            self.0 = true;
        }
        visit::visit_func_call(self, c);
    }
}

fn contains_special_call(e: &Expr) -> bool {
    let mut f = SpecialCallFinder(false);
    f.visit_expr(e);
    f.0
}

/// Evaluates an expression whose references are all declared in `ctx`.
fn eval_known(expr: &Expr, ctx: &Context, env: Option<&BTreeMap<String, String>>) -> Result<Value, String> {
    let mut e = expr.clone();
    if contains_special_call(&e) {
        let mut r = Rewriter { ctx, env, error: None };
        r.visit_expr_mut(&mut e);
        if let Some(err) = r.error {
            return Err(err);
        }
    }
    coercion::Coercer.visit_expr_mut(&mut e);
    let converted: hcl::Expression = e.into();
    let mut value = converted.evaluate(ctx).map_err(|e| match e.kind() {
        hcl::eval::ErrorKind::FuncCall(name, msg) if coercion::is_helper(name.name.as_str()) => msg.clone(),
        kind => match e.expr().map(ToString::to_string) {
            // The rewritten operators are ours, not the user's: name the expression only when
            // it reads as written.
            Some(text) if !text.contains("cce_") => format!("{kind} in `{text}`"),
            _ => kind.to_string(),
        },
    })?;
    crate::types::sort_objects(&mut value);
    Ok(value)
}

/// Packer (through cty) converts operands of arithmetic, comparison and logic operators:
/// `"5" + 1` is 6 and `"true" && x` works, and arithmetic never overflows or divides by zero
/// silently. hcl-rs does neither (and panics on `1 / 0`), so arithmetic is rewritten into calls
/// of checked helpers and other operands are wrapped in conversion calls before evaluation.
mod coercion {
    use super::*;
    use hcl::eval::{FuncArgs, FuncDef, ParamType};

    const TO_NUMBER: &str = "cce_to_number";
    const TO_BOOL: &str = "cce_to_bool";

    pub fn is_helper(name: &str) -> bool {
        name.starts_with("cce_")
    }

    fn number(v: &Value) -> Result<hcl::Number, String> {
        match crate::types::convert(v, &crate::types::Type::Number)? {
            Value::Number(n) => Ok(n),
            _ => Err("a number is required, got null".to_string()),
        }
    }

    fn to_number(args: FuncArgs) -> Result<Value, String> {
        number(&args[0]).map(Value::Number)
    }

    fn to_bool(args: FuncArgs) -> Result<Value, String> {
        crate::types::convert(&args[0], &crate::types::Type::Bool).and_then(|v| match v {
            Value::Null => Err("a bool is required, got null".to_string()),
            v => Ok(v),
        })
    }

    fn float(f: f64) -> Result<Value, String> {
        hcl::Number::from_f64(f).map(Value::Number).ok_or_else(|| "the result is not a finite number".to_string())
    }

    fn f(n: &hcl::Number) -> f64 {
        n.as_f64().unwrap_or(f64::NAN)
    }

    /// Integer arithmetic when both sides are integers and the result fits, else floating point.
    fn arith(args: &FuncArgs, int: fn(i64, i64) -> Option<i64>, flt: fn(f64, f64) -> f64) -> Result<Value, String> {
        let (a, b) = (number(&args[0])?, number(&args[1])?);
        if let (Some(x), Some(y)) = (a.as_i64(), b.as_i64()) {
            if let Some(r) = int(x, y) {
                return Ok(Value::from(r));
            }
        }
        float(flt(f(&a), f(&b)))
    }

    fn add(args: FuncArgs) -> Result<Value, String> {
        arith(&args, i64::checked_add, |a, b| a + b)
    }

    fn sub(args: FuncArgs) -> Result<Value, String> {
        arith(&args, i64::checked_sub, |a, b| a - b)
    }

    fn mul(args: FuncArgs) -> Result<Value, String> {
        arith(&args, i64::checked_mul, |a, b| a * b)
    }

    fn div(args: FuncArgs) -> Result<Value, String> {
        if f(&number(&args[1])?) == 0.0 {
            return Err("can't divide by zero".into());
        }
        arith(&args, |a, b| if a.checked_rem(b)? == 0 { a.checked_div(b) } else { None }, |a, b| a / b)
    }

    fn rem(args: FuncArgs) -> Result<Value, String> {
        if f(&number(&args[1])?) == 0.0 {
            return Err("can't compute the remainder of a division by zero".into());
        }
        arith(&args, i64::checked_rem, |a, b| a % b)
    }

    fn neg(args: FuncArgs) -> Result<Value, String> {
        let n = number(&args[0])?;
        match n.as_i64().and_then(i64::checked_neg) {
            Some(r) => Ok(Value::from(r)),
            None => float(-f(&n)),
        }
    }

    pub fn declare(ctx: &mut Context) {
        let one = |func| FuncDef::builder().param(ParamType::Any).build(func);
        let two = |func| FuncDef::builder().param(ParamType::Any).param(ParamType::Any).build(func);
        ctx.declare_func(TO_NUMBER, one(to_number));
        ctx.declare_func(TO_BOOL, one(to_bool));
        ctx.declare_func("cce_neg", one(neg));
        ctx.declare_func("cce_add", two(add));
        ctx.declare_func("cce_sub", two(sub));
        ctx.declare_func("cce_mul", two(mul));
        ctx.declare_func("cce_div", two(div));
        ctx.declare_func("cce_rem", two(rem));
    }

    fn call(func: &'static str, args: Vec<Expr>) -> Expr {
        // Every helper name is a valid identifier, so Ident::new cannot fail on them.
        Expr::FuncCall(Box::new(FuncCall::new(Ident::new(func), EFuncArgs::from(args))))
    }

    fn wrap(e: &mut Expr, func: &'static str) {
        let already = match func {
            TO_NUMBER => matches!(e, Expr::Number(_)),
            _ => matches!(e, Expr::Bool(_)),
        };
        if already {
            return;
        }
        let inner = std::mem::replace(e, Expr::null());
        *e = call(func, vec![inner]);
    }

    fn key_text(k: &ObjectKey) -> Option<String> {
        match k {
            ObjectKey::Ident(i) => Some(i.as_str().to_string()),
            ObjectKey::Expression(Expr::String(s)) => Some(s.as_str().to_string()),
            ObjectKey::Expression(_) => None,
        }
    }

    pub struct Coercer;

    impl VisitMut for Coercer {
        /// cty keeps object attributes in key order, so `for k, v in {b = 1, a = 2}` visits `a`
        /// first; an object literal with plain keys is sorted before hcl-rs sees it.
        fn visit_object_mut(&mut self, obj: &mut Object) {
            visit_mut::visit_object_mut(self, obj);
            if !obj.iter().all(|(k, _)| key_text(k).is_some()) {
                return;
            }
            let mut items: Vec<(ObjectKey, ObjectValue)> = std::mem::replace(obj, Object::new()).into_iter().collect();
            items.sort_by_key(|(k, _)| key_text(k));
            *obj = items.into_iter().collect();
        }

        fn visit_expr_mut(&mut self, e: &mut Expr) {
            visit_mut::visit_expr_mut(self, e);
            let func = match e {
                Expr::BinaryOp(op) => match op.operator.value() {
                    BinaryOperator::Plus => "cce_add",
                    BinaryOperator::Minus => "cce_sub",
                    BinaryOperator::Mul => "cce_mul",
                    BinaryOperator::Div => "cce_div",
                    BinaryOperator::Mod => "cce_rem",
                    _ => return,
                },
                Expr::UnaryOp(op) if matches!(op.operator.value(), UnaryOperator::Neg) => "cce_neg",
                _ => return,
            };
            match std::mem::replace(e, Expr::null()) {
                Expr::BinaryOp(op) => *e = call(func, vec![op.lhs_expr, op.rhs_expr]),
                Expr::UnaryOp(op) => *e = call(func, vec![op.expr]),
                // Only the two shapes matched above reach here.
                other => *e = other,
            }
        }

        fn visit_binary_op_mut(&mut self, op: &mut BinaryOp) {
            visit_mut::visit_binary_op_mut(self, op);
            let func = match op.operator.value() {
                BinaryOperator::Less | BinaryOperator::LessEq | BinaryOperator::Greater | BinaryOperator::GreaterEq => TO_NUMBER,
                BinaryOperator::And | BinaryOperator::Or => TO_BOOL,
                _ => return,
            };
            wrap(&mut op.lhs_expr, func);
            wrap(&mut op.rhs_expr, func);
        }

        fn visit_unary_op_mut(&mut self, op: &mut UnaryOp) {
            visit_mut::visit_unary_op_mut(self, op);
            if matches!(op.operator.value(), UnaryOperator::Not) {
                wrap(&mut op.expr, TO_BOOL);
            }
        }
    }
}

/// Replaces `try()`, `can()` and `env()` calls by their values, before hcl-rs sees the expression.
struct Rewriter<'c, 'e> {
    ctx: &'c Context<'c>,
    env: Option<&'e BTreeMap<String, String>>,
    error: Option<String>,
}

impl Rewriter<'_, '_> {
    fn special(&self, call: &FuncCall) -> Option<Result<Value, String>> {
        let args: Vec<&Expr> = call.args.iter().collect();
        match call.name.name.as_str() {
            "try" => {
                let mut last = String::from("no arguments");
                for a in &args {
                    match eval_known(a, self.ctx, self.env) {
                        Ok(v) => return Some(Ok(v)),
                        Err(e) => last = e,
                    }
                }
                Some(Err(format!("no expression given to try() succeeded; the last error was: {last}")))
            }
            "can" => Some(Ok(Value::Bool(args.first().is_some_and(|a| eval_known(a, self.ctx, self.env).is_ok())))),
            "env" => {
                let Some(env) = self.env else {
                    return Some(Err("env() is only allowed in variable defaults".into()));
                };
                let Some(arg) = args.first() else { return Some(Err("env() takes exactly one argument".into())) };
                Some(match eval_known(arg, self.ctx, self.env) {
                    // Packer returns "" for an unset variable.
                    Ok(Value::String(name)) => Ok(Value::String(env.get(&name).cloned().unwrap_or_default())),
                    Ok(other) => Err(format!("env() needs a string, got {other}")),
                    Err(e) => Err(e),
                })
            }
            _ => None,
        }
    }

    /// A `for` expression whose body calls try()/can() on its own iteration variables: hcl-rs
    /// would see the calls before the variables exist, so iterate here.
    fn eval_for(&self, f: &ForExpr) -> Result<Value, String> {
        let coll = eval_known(&f.intro.collection_expr, self.ctx, self.env)?;
        let items: Vec<(Value, Value)> = match coll {
            Value::Array(a) => a.into_iter().enumerate().map(|(i, v)| (Value::from(i as u64), v)).collect(),
            Value::Object(m) => m.into_iter().map(|(k, v)| (Value::String(k), v)).collect(),
            other => return Err(format!("a for expression needs a list or an object, got {other}")),
        };
        let mut list = Vec::new();
        let mut object = hcl::Map::new();
        let mut grouped: hcl::Map<String, Value> = hcl::Map::new();
        for (k, v) in items {
            let mut c = self.ctx.clone();
            if let Some(kv) = &f.intro.key_var {
                c.declare_var(kv.as_str().to_string(), k);
            }
            c.declare_var(f.intro.value_var.as_str().to_string(), v);
            if let Some(cond) = &f.cond {
                match eval_known(&cond.expr, &c, self.env)? {
                    Value::Bool(true) => {}
                    Value::Bool(false) => continue,
                    other => return Err(format!("the condition of a for expression must be a bool, got {other}")),
                }
            }
            let value = eval_known(&f.value_expr, &c, self.env)?;
            match &f.key_expr {
                None => list.push(value),
                Some(ke) => {
                    let key = match eval_known(ke, &c, self.env)? {
                        Value::String(s) => s,
                        Value::Number(n) => crate::types::number_to_string(&n),
                        Value::Bool(b) => b.to_string(),
                        other => return Err(format!("object keys must be strings, got {other}")),
                    };
                    if f.grouping {
                        // Grouped entries are only ever created as arrays here.
                        if let Value::Array(a) = grouped.entry(key).or_insert_with(|| Value::Array(Vec::new())) {
                            a.push(value);
                        }
                    } else if object.contains_key(&key) {
                        return Err(format!("duplicate object key \"{key}\"; use ... after the value to group"));
                    } else {
                        object.insert(key, value);
                    }
                }
            }
        }
        Ok(match (&f.key_expr, f.grouping) {
            (None, _) => Value::Array(list),
            (Some(_), true) => Value::Object(grouped),
            (Some(_), false) => Value::Object(object),
        })
    }
}

impl VisitMut for Rewriter<'_, '_> {
    fn visit_expr_mut(&mut self, node: &mut Expr) {
        if self.error.is_some() {
            return;
        }
        let replaced = match node {
            Expr::FuncCall(call) => self.special(call),
            Expr::ForExpr(f) if contains_special_call(&f.value_expr) || f.cond.as_ref().is_some_and(|c| contains_special_call(&c.expr)) || f.key_expr.as_ref().is_some_and(contains_special_call) => {
                Some(self.eval_for(f))
            }
            _ => None,
        };
        match replaced {
            Some(Ok(v)) => *node = value_expr(v),
            Some(Err(e)) => self.error = Some(e),
            None => visit_mut::visit_expr_mut(self, node),
        }
    }

    fn visit_for_template_expr_mut(&mut self, f: &mut ForTemplateExpr) {
        if contains_special_call_in_template(f) {
            self.error = Some("try(), can() and env() inside a %{for} directive are not supported; use a for expression".into());
            return;
        }
        visit_mut::visit_for_template_expr_mut(self, f);
    }
}

fn contains_special_call_in_template(f: &ForTemplateExpr) -> bool {
    let mut finder = SpecialCallFinder(false);
    finder.visit_template(&f.template);
    finder.0
}

// ---- substituting known parts of a build-time expression

/// The root names an expression refers to that it does not bind itself.
fn free_roots(e: &Expr) -> Vec<String> {
    struct Roots {
        bound: Vec<String>,
        free: Vec<String>,
    }
    impl Roots {
        fn add(&mut self, name: &str) {
            if !self.bound.iter().any(|b| b == name) && !self.free.iter().any(|f| f == name) {
                self.free.push(name.to_string());
            }
        }
    }
    impl BindsNames for Roots {
        fn bound(&mut self) -> &mut Vec<String> {
            &mut self.bound
        }
    }
    impl Visit for Roots {
        fn visit_expr(&mut self, e: &Expr) {
            match e {
                Expr::Variable(v) => self.add(v.as_str()),
                _ => visit::visit_expr(self, e),
            }
        }
        fn visit_traversal(&mut self, t: &Traversal) {
            match &t.expr {
                Expr::Variable(v) => self.add(v.as_str()),
                other => self.visit_expr(other),
            }
            for op in &t.operators {
                self.visit_traversal_operator(op);
            }
        }
        fn visit_for_expr(&mut self, f: &ForExpr) {
            visit_for_expr_binding(self, f);
        }
        fn visit_for_template_expr(&mut self, f: &ForTemplateExpr) {
            visit_for_template_expr_binding(self, f);
        }
    }
    let mut r = Roots { bound: Vec::new(), free: Vec::new() };
    r.visit_expr(e);
    r.free
}

fn is_plain_literal(e: &Expr) -> bool {
    matches!(e, Expr::Null(_) | Expr::Bool(_) | Expr::Number(_) | Expr::String(_))
}

struct Substituter<'c, 's, 'a> {
    ctx: &'c Context<'c>,
    scope: &'s Scope<'a>,
    error: Option<String>,
}

impl Substituter<'_, '_, '_> {
    fn evaluable(&self, e: &Expr) -> bool {
        let known = self.scope.known_roots();
        free_roots(e).iter().all(|r| known.contains(&r.as_str()))
    }
}

impl VisitMut for Substituter<'_, '_, '_> {
    fn visit_expr_mut(&mut self, node: &mut Expr) {
        if self.error.is_some() || is_plain_literal(node) {
            return;
        }
        if self.evaluable(node) {
            match eval_known(node, self.ctx, self.scope.env) {
                Ok(v) => *node = value_expr(v),
                Err(e) => self.error = Some(e),
            }
            return;
        }
        visit_mut::visit_expr_mut(self, node);
    }

    fn visit_element_mut(&mut self, el: &mut Element) {
        if self.error.is_some() {
            return;
        }
        if let Element::Interpolation(i) = el {
            if self.evaluable(&i.expr) {
                match eval_known(&i.expr, self.ctx, self.scope.env) {
                    Ok(Value::String(s)) => *el = Element::Literal(hcl::edit::Spanned::new(s)),
                    Ok(Value::Number(n)) => {
                        *el = Element::Literal(hcl::edit::Spanned::new(crate::types::number_to_string(&n)))
                    }
                    Ok(Value::Bool(b)) => *el = Element::Literal(hcl::edit::Spanned::new(b.to_string())),
                    Ok(other) => self.error = Some(format!("cannot interpolate a {} into a string", kind(&other))),
                    Err(e) => self.error = Some(e),
                }
                return;
            }
        }
        visit_mut::visit_element_mut(self, el);
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Array(_) => "list",
        Value::Object(_) => "object",
        _ => "value",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expr(src: &str) -> Expr {
        hcl::edit::parser::parse_expr(src).unwrap()
    }

    fn vars() -> hcl::Map<String, Value> {
        let mut m = hcl::Map::new();
        m.insert("region".into(), Value::String("ru-moscow-1".into()));
        m.insert("n".into(), Value::String("5".into()));
        m.insert(
            "disks".into(),
            Value::Array(vec![
                hcl::value!({ name = "sys", size = 40 }),
                hcl::value!({ name = "data" }),
            ]),
        );
        m
    }

    fn run(src: &str, defer: &[&str]) -> Result<Evaluated, Vec<String>> {
        let v = vars();
        let locals = hcl::Map::new();
        let scope = Scope {
            file: FileId(0),
            vars: Some(&v),
            locals: Some(&locals),
            path: None,
            source: None,
            defer,
            env: None,
            place: "here",
            extra: None,
        };
        let mut d = Diagnostics::default();
        eval(&expr(src), &scope, &mut d).ok_or_else(|| d.0.iter().map(|x| x.summary.clone()).collect())
    }

    fn known(src: &str) -> Value {
        match run(src, &["build"]).unwrap().value {
            AttrValue::Known(v) => v,
            other => panic!("{src}: {other:?}"),
        }
    }

    fn deferred(src: &str) -> String {
        match run(src, &["build"]).unwrap().value {
            AttrValue::Deferred(s) => s,
            other => panic!("{src}: {other:?}"),
        }
    }

    #[test]
    fn evaluates_references_and_functions() {
        assert_eq!(known("upper(var.region)"), Value::from("RU-MOSCOW-1"));
        assert_eq!(known("\"x-${var.region}\""), Value::from("x-ru-moscow-1"));
        assert_eq!(known("var.disks[*].name"), hcl::value!(["sys", "data"]));
        assert_eq!(known("packer.version"), Value::from(PACKER_VERSION));
    }

    #[test]
    fn try_and_can_are_handled_before_evaluation() {
        assert_eq!(known("try(var.disks[1].size, 10)"), Value::from(10));
        assert_eq!(known("try(var.disks[0].size, 10)"), Value::from(40));
        assert_eq!(known("can(var.disks[5])"), Value::Bool(false));
        assert_eq!(known("can(var.disks[0])"), Value::Bool(true));
        assert_eq!(known("[for d in var.disks : try(d.size, 0)]"), hcl::value!([40, 0]));
        assert_eq!(known("\"s=${try(var.disks[1].size, \"none\")}\""), Value::from("s=none"));
        // As in Packer, try() also catches references to what does not exist.
        assert_eq!(known("try(local.nope, var.nope, nothing.here, \"fallback\")"), Value::from("fallback"));
        assert_eq!(known("can(var.nope)"), Value::Bool(false));
        // A mistyped function name is still an error.
        assert_eq!(run("try(uper(\"a\"), 1)", &[]).unwrap_err(), ["undefined function \"uper\""]);
        let err = run("try(var.disks[9].size)", &[]).unwrap_err();
        assert!(err[0].contains("no expression given to try() succeeded"), "{err:?}");
    }

    #[test]
    fn build_references_are_deferred_with_known_parts_substituted() {
        assert_eq!(deferred("\"echo ${build.ID} in ${var.region}\""), "\"echo ${build.ID} in ru-moscow-1\"");
        assert_eq!(deferred("[\"a ${build.Host}\", upper(var.region)]"), "[\"a ${build.Host}\", \"RU-MOSCOW-1\"]");
        assert_eq!(deferred("\"$${x} ${build.User}\""), "\"$${x} ${build.User}\"");
        let e = run("\"${build.ID}\"", &[]).unwrap_err();
        assert!(e[0].contains("build.* is only known during a build"), "{e:?}");
    }

    #[test]
    fn operators_convert_operands_like_cty() {
        assert_eq!(known("\"5\" + 1"), Value::from(6));
        assert_eq!(known("var.n * 2"), Value::from(10));
        assert_eq!(known("var.n > 3"), Value::Bool(true));
        assert_eq!(known("-var.n"), Value::from(-5));
        assert_eq!(known("\"true\" && !\"false\""), Value::Bool(true));
        assert_eq!(known("var.n == 5"), Value::Bool(false)); // equality never converts, as in cty
        assert_eq!(known("[for d in var.disks : d.name if try(d.size, 0) + 0 > \"10\"]"), hcl::value!(["sys"]));
        let e = run("var.region + 1", &[]).unwrap_err();
        assert_eq!(e, ["cannot evaluate the expression: a number is required, got the string \"ru-moscow-1\""]);
        // Arithmetic is checked: no panic, no silent wrap-around.
        assert_eq!(known("7 / 2"), Value::from(3.5));
        assert_eq!(known("8 / 2"), Value::from(4));
        assert_eq!(known("-7 % 3"), Value::from(-1));
        assert_eq!(known("9223372036854775807 + 1"), Value::from(9223372036854775808.0));
        assert_eq!(known("-(-9223372036854775807 - 1)"), Value::from(9223372036854775808.0));
        assert_eq!(known("18446744073709551615 * 2"), Value::from(36893488147419103230.0));
        assert_eq!(run("1 / 0", &[]).unwrap_err(), ["cannot evaluate the expression: can't divide by zero"]);
        assert!(run("\"${5 % 0}\"", &[]).unwrap_err()[0].contains("division by zero"));
        let e = run("var.disks[7].size * 2", &[]).unwrap_err();
        assert_eq!(e, ["cannot evaluate the expression: index out of bounds: 7"]);
        let e = run("var.disks[7].size", &[]).unwrap_err();
        assert_eq!(e, ["cannot evaluate the expression: index out of bounds: 7 in `var.disks[7].size`"]);
        // Deferred expressions keep the source as written.
        assert_eq!(deferred("\"${build.ID}-${var.n + 1}\""), "\"${build.ID}-6\"");
    }

    #[test]
    fn function_arity_is_checked_with_positions() {
        assert_eq!(run("upper()", &[]).unwrap_err(), ["upper() takes 1 argument, got 0"]);
        assert_eq!(run("join(\",\")", &[]).unwrap_err(), ["join() takes at least 2 arguments, got 1"]);
        assert_eq!(run("upper(\"a\", \"b\")", &[]).unwrap_err(), ["upper() takes 1 argument, got 2"]);
        assert_eq!(known("join(\"-\", [\"a\"], [\"b\", \"c\"])"), Value::from("a-b-c"));
    }

    #[test]
    fn deferred_heredocs_keep_their_shape() {
        let src = "<<EOF\necho ${build.ID}\necho ${var.region} $${HOME}\nEOF";
        assert_eq!(deferred(src), "<<EOF\necho ${build.ID}\necho ru-moscow-1 $${HOME}\nEOF");
        let src = "<<-EOT\n    run ${build.Host}\n      ${upper(var.region)}\n    EOT";
        let out = deferred(src);
        // Evaluated again with build values, it gives what Packer would.
        let e = hcl::edit::parser::parse_expr(&out).unwrap();
        let mut ctx = Context::new();
        ctx.declare_var("build", hcl::value!({ Host = "10.0.0.5" }));
        let v = hcl::Expression::from(e).evaluate(&ctx).unwrap();
        assert_eq!(v, Value::from("run 10.0.0.5\n  RU-MOSCOW-1\n"), "{out}");
    }

    #[test]
    fn deferred_expressions_evaluate_at_build_time() {
        let src = deferred("[\"echo ${build.ID} ${upper(build.User)}\", \"${var.n + 1}\", build.Port + \"1\"]");
        let mut roots = hcl::Map::new();
        roots.insert("build".to_string(), hcl::value!({ ID = "ecs-1", User = "root", Port = 22 }));
        // A template of one interpolation keeps the value's type, as HCL specifies.
        assert_eq!(eval_deferred(&src, &roots), Ok(hcl::value!(["echo ecs-1 ROOT", 6, 23])));
        assert!(eval_deferred(&src, &hcl::Map::new()).unwrap_err().contains("build"));
        assert!(eval_deferred("[", &roots).unwrap_err().starts_with("invalid deferred expression"));
    }

    #[test]
    fn literal_flag() {
        assert!(run("\"abc\"", &[]).unwrap().literal);
        assert!(run("[1, {a = 2}]", &[]).unwrap().literal);
        assert!(!run("var.region", &[]).unwrap().literal);
        assert!(!run("upper(\"a\")", &[]).unwrap().literal);
    }

    #[test]
    fn undefined_names_are_reported_with_suggestions() {
        let e = run("var.regoin", &[]).unwrap_err();
        assert_eq!(e, ["undefined variable \"var.regoin\""]);
        let e = run("uper(\"a\")", &[]).unwrap_err();
        assert_eq!(e, ["undefined function \"uper\""]);
        let e = run("locl.x", &[]).unwrap_err();
        assert!(e[0].starts_with("unknown variable \"locl\""), "{e:?}");
        let e = run("env(\"HOME\")", &[]).unwrap_err();
        assert_eq!(e, ["env() is only allowed in variable defaults"]);
        // Loop variables are not references.
        assert_eq!(known("[for x in [1, 2] : x * 2]"), hcl::value!([2, 4]));
        // Several problems at once.
        assert_eq!(run("[var.a, local.b, nofn()]", &[]).unwrap_err().len(), 3);
    }

    #[test]
    fn env_in_defaults_reads_the_injected_environment() {
        let mut env = BTreeMap::new();
        env.insert("AK".to_string(), "secret".to_string());
        let scope = Scope { env: Some(&env), ..Scope::empty(FileId(0), "in a variable default") };
        let mut d = Diagnostics::default();
        assert_eq!(eval_value(&expr("env(\"AK\")"), &scope, &mut d), Some(Value::from("secret")));
        assert_eq!(eval_value(&expr("env(\"NOPE\")"), &scope, &mut d), Some(Value::from("")));
        assert!(eval_value(&expr("var.x"), &scope, &mut d).is_none());
        assert!(d.0[0].summary.contains("var.* cannot be used in a variable default"), "{:?}", d);
    }

    mod fuzz {
        use super::*;
        use proptest::prelude::*;

        fn atom() -> impl Strategy<Value = String> {
            prop_oneof![
                Just("0".to_string()),
                Just("-1".to_string()),
                Just("9223372036854775807".to_string()),
                Just("18446744073709551615".to_string()),
                Just("1.5e300".to_string()),
                Just("\"5\"".to_string()),
                Just("\"x\"".to_string()),
                Just("true".to_string()),
                Just("null".to_string()),
                Just("[1]".to_string()),
                Just("var.n".to_string()),
                any::<i64>().prop_map(|i| i.to_string()),
            ]
        }

        proptest! {
            #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

            /// Whatever the operands, evaluation returns a value or an error, never a panic.
            #[test]
            fn operators_never_panic(
                a in atom(), b in atom(), c in atom(),
                op1 in prop::sample::select(vec!["+", "-", "*", "/", "%", "<", ">=", "==", "&&", "||"]),
                op2 in prop::sample::select(vec!["+", "-", "*", "/", "%", "<", "!=", "&&"]),
                neg in any::<bool>(),
            ) {
                let src = format!("{}({a} {op1} {b}) {op2} {c}", if neg { "-" } else { "" });
                let _ = run(&src, &[]);
                let _ = run(&format!("\"${{{src}}}\""), &["build"]);
            }
        }
    }
}
