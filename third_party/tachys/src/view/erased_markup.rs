//! sunfleet: typed views that render the HTML of their type-erased form (see PATCHED.md).

use crate::{
    html::attribute::{any_attribute::AnyAttribute, Attribute},
    hydration::Cursor,
    ssr::StreamBuilder,
    view::{add_attr::AddAnyAttr, Position, PositionState, Render, RenderHtml},
};

/// A view rendered as the `AnyView` it would be with `--cfg erase_components`: the same
/// HTML, plus the `<!--<() />-->` an `AnyView` of a view that renders nothing ends with,
/// without erasing it. The erased browser build hydrates the result.
#[derive(Debug, Clone)]
pub struct ErasedMarkup<T>(pub T);

/// What an `AnyView` of a view that does not exist in the DOM adds after it.
const UNIT_MARKER: &str = "<!--<() />-->";

impl<T: Render> Render for ErasedMarkup<T> {
    type State = T::State;

    fn build(self) -> Self::State {
        self.0.build()
    }

    fn rebuild(self, state: &mut Self::State) {
        self.0.rebuild(state)
    }
}

impl<T: AddAnyAttr> AddAnyAttr for ErasedMarkup<T> {
    type Output<SomeNewAttr: Attribute> = ErasedMarkup<T::Output<SomeNewAttr>>;

    fn add_any_attr<NewAttr: Attribute>(
        self,
        attr: NewAttr,
    ) -> Self::Output<NewAttr>
    where
        Self::Output<NewAttr>: RenderHtml,
    {
        ErasedMarkup(self.0.add_any_attr(attr))
    }
}

impl<T: RenderHtml> RenderHtml for ErasedMarkup<T> {
    type AsyncOutput = ErasedMarkup<T::AsyncOutput>;
    type Owned = ErasedMarkup<T::Owned>;

    const MIN_LENGTH: usize = T::MIN_LENGTH;
    // An `AnyView` always exists, whatever it holds.
    const EXISTS: bool = true;

    fn dry_resolve(&mut self) {
        self.0.dry_resolve();
    }

    async fn resolve(self) -> Self::AsyncOutput {
        ErasedMarkup(self.0.resolve().await)
    }

    fn html_len(&self) -> usize {
        self.0.html_len() + if T::EXISTS { 0 } else { UNIT_MARKER.len() }
    }

    fn to_html_with_buf(
        self,
        buf: &mut String,
        position: &mut Position,
        escape: bool,
        mark_branches: bool,
        extra_attrs: Vec<AnyAttribute>,
    ) {
        self.0.to_html_with_buf(
            buf,
            position,
            escape,
            mark_branches,
            extra_attrs,
        );
        if !T::EXISTS {
            buf.push_str(UNIT_MARKER);
        }
    }

    fn to_html_async_with_buf<const OUT_OF_ORDER: bool>(
        self,
        buf: &mut StreamBuilder,
        position: &mut Position,
        escape: bool,
        mark_branches: bool,
        extra_attrs: Vec<AnyAttribute>,
    ) where
        Self: Sized,
    {
        self.0.to_html_async_with_buf::<OUT_OF_ORDER>(
            buf,
            position,
            escape,
            mark_branches,
            extra_attrs,
        );
        if !T::EXISTS {
            buf.push_sync(UNIT_MARKER);
        }
    }

    fn hydrate<const FROM_SERVER: bool>(
        self,
        cursor: &Cursor,
        position: &PositionState,
    ) -> Self::State {
        self.0.hydrate::<FROM_SERVER>(cursor, position)
    }

    async fn hydrate_async(
        self,
        cursor: &Cursor,
        position: &PositionState,
    ) -> Self::State {
        self.0.hydrate_async(cursor, position).await
    }

    fn into_owned(self) -> Self::Owned {
        ErasedMarkup(self.0.into_owned())
    }
}
