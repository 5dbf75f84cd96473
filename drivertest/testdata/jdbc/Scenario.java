// The driver matrix scenario with the PostgreSQL JDBC driver
// (drivertest/jdbc_test.go), run as a single source file. Reads the
// SCENARIO_* environment, prints one line per step, and cancels its
// sleeping statement when a line arrives on standard input.

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.Map;
import java.util.Properties;

public class Scenario {
    static final Map<String, String> env = System.getenv();

    static void emit(String line) {
        System.out.println(line);
        System.out.flush();
    }

    static Connection connect(String password) throws SQLException {
        String url = "jdbc:postgresql://" + env.get("SCENARIO_HOST") + ":" + env.get("SCENARIO_PORT") + "/" + env.get("SCENARIO_DATABASE");
        Properties p = new Properties();
        p.setProperty("user", env.get("SCENARIO_USER"));
        p.setProperty("password", password);
        p.setProperty("sslmode", "verify-full");
        p.setProperty("sslrootcert", env.get("SCENARIO_ROOTCERT"));
        p.setProperty("ApplicationName", env.get("SCENARIO_APP"));
        // A server-side prepared statement from the first execution on.
        p.setProperty("prepareThreshold", "1");
        return DriverManager.getConnection(url, p);
    }

    static int one(Connection c) throws SQLException {
        try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery("SELECT 1")) {
            rs.next();
            return rs.getInt(1);
        }
    }

    static void exec(Connection c, String sql) throws SQLException {
        try (Statement st = c.createStatement()) {
            st.execute(sql);
        }
    }

    public static void main(String[] args) throws Exception {
        Connection c = connect(env.get("SCENARIO_PASSWORD"));
        emit("connected");
        try {
            connect(env.get("SCENARIO_PASSWORD") + "-wrong").close();
            emit("bad password: accepted");
        } catch (SQLException e) {
            emit("bad password: " + e.getSQLState());
        }

        long id = Long.parseLong(env.get("SCENARIO_PREPARED_ID"));
        try (PreparedStatement ins = c.prepareStatement("INSERT INTO customers (id, name) VALUES (?, ?)")) {
            ins.setLong(1, id);
            ins.setString(2, env.get("SCENARIO_NAME"));
            ins.executeUpdate();
        }
        try (PreparedStatement sel = c.prepareStatement("SELECT name FROM customers WHERE id = ?")) {
            String name = null;
            for (int i = 0; i < 2; i++) { // the second run reuses the server's statement
                sel.setLong(1, id);
                try (ResultSet rs = sel.executeQuery()) {
                    rs.next();
                    name = rs.getString(1);
                }
            }
            emit("prepared: " + name);
        }

        long[] ids = {Long.parseLong(env.get("SCENARIO_TXN_ID1")), Long.parseLong(env.get("SCENARIO_TXN_ID2"))};
        for (String end : new String[] {"rollback", "commit"}) {
            c.setAutoCommit(false);
            try (PreparedStatement ins = c.prepareStatement("INSERT INTO customers (id, name) VALUES (?, 'txn')")) {
                for (long i : ids) {
                    ins.setLong(1, i);
                    ins.executeUpdate();
                }
            }
            if (end.equals("rollback")) {
                c.rollback();
            } else {
                c.commit();
            }
            c.setAutoCommit(true);
            try (PreparedStatement cnt = c.prepareStatement("SELECT count(*) FROM customers WHERE id IN (?, ?)")) {
                cnt.setLong(1, ids[0]);
                cnt.setLong(2, ids[1]);
                try (ResultSet rs = cnt.executeQuery()) {
                    rs.next();
                    emit(end + ": " + rs.getInt(1));
                }
            }
        }

        try {
            exec(c, "SELECT 1/0");
        } catch (SQLException e) {
            emit("error: " + e.getSQLState());
        }
        emit("recovered: " + one(c));
        c.setAutoCommit(false);
        try {
            exec(c, "SELECT 1/0");
        } catch (SQLException e) {
            // the transaction is aborted now
        }
        try {
            one(c);
        } catch (SQLException e) {
            emit("aborted: " + e.getSQLState());
        }
        c.rollback();
        c.setAutoCommit(true);
        emit("after rollback: " + one(c));

        Statement sleep = c.createStatement();
        Thread canceler = new Thread(() -> {
            try {
                new BufferedReader(new InputStreamReader(System.in)).readLine();
                sleep.cancel();
            } catch (Exception e) {
                e.printStackTrace();
            }
        });
        canceler.setDaemon(true);
        canceler.start();
        emit("sleeping");
        try {
            sleep.execute("SELECT pg_sleep(60)");
            emit("cancel: not canceled");
        } catch (SQLException e) {
            emit("cancel: " + e.getSQLState());
        }
        emit("after cancel: " + one(c));
        c.close();
    }
}
