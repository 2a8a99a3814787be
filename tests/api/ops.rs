use sunfleet_tests::{spawn_app, spawn_app_in};

#[tokio::test]
async fn health_and_readiness_answer() {
    let app = spawn_app().await;
    assert_eq!(app.get("/healthz").await, (200, "ok".to_string()));
    assert_eq!(app.get("/readyz").await, (200, "ready".to_string()));
}

#[tokio::test]
async fn starting_twice_on_the_same_data_directory_keeps_the_data() {
    let first = spawn_app().await;
    first.add_customers(&["keep-me"]).await;
    let dir = first.dir.clone();
    drop(first);
    // SurrealKV holds a lock on its directory until the handle is gone; give the aborted
    // server task a moment to release it.
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let second = spawn_app_in(dir).await;
    let mut response = second
        .db
        .query("SELECT VALUE name FROM org ORDER BY name")
        .await
        .unwrap();
    let names: Vec<String> = response.take(0).unwrap();
    assert_eq!(names, ["Keep Me", "Operator"]);
}
